// SPDX-License-Identifier: MIT
// JobEscrow: a job's budget held against its id until the job settles.
// A customer deposits (with the token's allowance); the settler posts one
// Merkle root of the payout list (the list itself is on IPFS, its CID in
// the event) and the refund goes back to the customer at once; each payee
// then claims its leaf with a proof. Gas to settle does not depend on the
// number of payees. A job settles once; a job not settled by its deadline
// can be refunded whole. A deposit may name the job's license (keccak256
// of its CID, 0 for none); a single-use license is bound to the first job
// that names it (licenseJob) and no other job's deposit may name it. Claims are open for the claim period (set at
// deployment) after the settlement; then what was not claimed can be
// swept back to the customer, and no claim is taken after that. The leaf
// and tree rules are in dml-settle(1):
//   leaf  = keccak256(abi.encode(index, payee, amount, role))
//   node  = keccak256(min(a,b) ++ max(a,b)), a lone node moves up as is.
pragma solidity ^0.8.24;

interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

contract JobEscrow {
    enum State { None, Open, Settled, Refunded, Swept }

    struct Job {            // customer to claimUntil: one storage slot
        address customer;
        uint40 deadline;
        State state;
        uint40 claimUntil;  // settled: the last second a claim is taken
        uint256 amount;     // escrowed
        uint256 unclaimed;  // settled payouts not claimed yet
        bytes32 root;
    }

    IERC20 public immutable token;
    address public immutable settler;
    uint256 public immutable claimPeriod;   // seconds
    mapping(bytes32 => Job) public jobs;
    mapping(bytes32 => mapping(uint256 => uint256)) private claimedBits;
    mapping(bytes32 => bytes32) public licenseJob;  // single-use license -> job

    event Deposited(bytes32 indexed job, address indexed customer, uint256 amount, uint64 deadline);
    event LicenseBound(bytes32 indexed license, bytes32 indexed job);
    event Settled(bytes32 indexed job, bytes32 root, uint256 paid, uint256 refund, string payouts);
    event Claimed(bytes32 indexed job, uint256 indexed index, address indexed payee, uint256 amount, bytes32 role);
    event Refunded(bytes32 indexed job, address indexed customer, uint256 amount);
    event Swept(bytes32 indexed job, address indexed customer, uint256 amount);

    error JobExists(bytes32 job);
    error NoSuchJob(bytes32 job);
    error NotOpen(bytes32 job, State state);
    error NotSettler();
    error OverBudget(uint256 amount, uint256 paid);
    error DeadlineNotPassed(uint64 deadline);
    error BadProof();
    error AlreadyClaimed(uint256 index);
    error TransferFailed();
    error ZeroAmount();
    error DeadlineTooFar(uint64 deadline);
    error ClaimPeriodOver(uint64 claimUntil);
    error ClaimPeriodNotOver(uint64 claimUntil);
    error LicenseUsed(bytes32 license, bytes32 job);

    constructor(IERC20 token_, address settler_, uint256 claimPeriod_) {
        token = token_;
        settler = settler_;
        claimPeriod = claimPeriod_;
    }

    // license: keccak256 of the job's license CID, 0 for none; single:
    // a single-use license, bound here to this job for good.
    function deposit(bytes32 job, uint256 amount, uint64 deadline, bytes32 license,
        bool single) external {
        if (jobs[job].state != State.None) revert JobExists(job);
        if (amount == 0) revert ZeroAmount();
        if (deadline > type(uint40).max) revert DeadlineTooFar(deadline);
        if (single && license != 0) {
            bytes32 used = licenseJob[license];
            if (used != 0) revert LicenseUsed(license, used);
            licenseJob[license] = job;
            emit LicenseBound(license, job);
        }
        jobs[job] = Job(msg.sender, uint40(deadline), State.Open, 0, amount, 0, 0);
        if (!token.transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
        emit Deposited(job, msg.sender, amount, deadline);
    }

    function settle(bytes32 job, bytes32 root, uint256 paid, string calldata payouts) external {
        if (msg.sender != settler) revert NotSettler();
        Job storage j = jobs[job];
        if (j.state == State.None) revert NoSuchJob(job);
        if (j.state != State.Open) revert NotOpen(job, j.state);
        if (paid > j.amount) revert OverBudget(j.amount, paid);
        uint256 back = j.amount - paid;
        j.state = State.Settled;
        j.claimUntil = uint40(block.timestamp + claimPeriod);
        j.root = root;
        j.unclaimed = paid;
        if (back > 0 && !token.transfer(j.customer, back)) revert TransferFailed();
        emit Settled(job, root, paid, back, payouts);
    }

    function claimed(bytes32 job, uint256 index) public view returns (bool) {
        return claimedBits[job][index >> 8] & (1 << (index & 255)) != 0;
    }

    function claim(bytes32 job, uint256 index, address payee, uint256 amount, bytes32 role,
        bytes32[] calldata proof) external {
        Job storage j = jobs[job];
        if (j.state != State.Settled) revert NotOpen(job, j.state);
        if (block.timestamp > j.claimUntil) revert ClaimPeriodOver(j.claimUntil);
        if (claimed(job, index)) revert AlreadyClaimed(index);
        bytes32 h = keccak256(abi.encode(index, payee, amount, role));
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 p = proof[i];
            h = h < p ? keccak256(abi.encodePacked(h, p)) : keccak256(abi.encodePacked(p, h));
        }
        if (h != j.root) revert BadProof();
        if (amount > j.unclaimed) revert OverBudget(j.unclaimed, amount);
        claimedBits[job][index >> 8] |= 1 << (index & 255);
        j.unclaimed -= amount;
        if (!token.transfer(payee, amount)) revert TransferFailed();
        emit Claimed(job, index, payee, amount, role);
    }

    function refund(bytes32 job) external {
        Job storage j = jobs[job];
        if (j.state == State.None) revert NoSuchJob(job);
        if (j.state != State.Open) revert NotOpen(job, j.state);
        if (block.timestamp <= j.deadline) revert DeadlineNotPassed(j.deadline);
        j.state = State.Refunded;
        uint256 a = j.amount;
        if (!token.transfer(j.customer, a)) revert TransferFailed();
        emit Refunded(job, j.customer, a);
    }

    // After the claim period, what was not claimed goes back to the
    // customer; the job is then closed to claims.
    function sweep(bytes32 job) external {
        Job storage j = jobs[job];
        if (j.state == State.None) revert NoSuchJob(job);
        if (j.state != State.Settled) revert NotOpen(job, j.state);
        if (block.timestamp <= j.claimUntil) revert ClaimPeriodNotOver(j.claimUntil);
        j.state = State.Swept;
        uint256 a = j.unclaimed;
        j.unclaimed = 0;
        if (a > 0 && !token.transfer(j.customer, a)) revert TransferFailed();
        emit Swept(job, j.customer, a);
    }
}
