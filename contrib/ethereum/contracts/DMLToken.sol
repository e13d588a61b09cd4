// SPDX-License-Identifier: MIT
// DMLToken: the DML token (ERC-20, integer units as on the embedded ledger:
// decimals 0) with the two pools of dml-ledger(1), under the same rules:
// the user growth pool emits epoch k's floor(P0 * 63^k / 64^(k+1)) once,
// epochs in increasing order (one skipped is forfeited), 90% in equal
// floor shares to the owners, the rest in min(owners, 10) equal floor
// shares to owners drawn at random (one may be drawn more than once); the
// debug bounty pool pays what the authority awards. Both pools are
// balances of the token contract itself; what floor division leaves stays
// in the growth pool. The one difference from the ledger is where the
// draws come from: the ledger hashes its previous entry, a chain has no
// such entry, so here draw i is keccak256(abi.encode(seed, epoch, i)) mod
// n with seed the previous block's hash (in the Emission event).
pragma solidity ^0.8.24;

contract DMLToken {
    string public constant name = "Decentralized Machine Learning";
    string public constant symbol = "DML";
    uint8 public constant decimals = 0;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    address public immutable authority;
    uint256 public immutable growthPool0;   // P0: the pool at deployment
    uint256 public growthPool;              // what is left of it
    uint256 public bountyPool;
    uint256 public nextEpoch;               // the first epoch not yet passed

    uint256 public constant DRAWS = 10;     // the ledger's LEDGER_DRAWS
    uint256 public constant MAX_EPOCH = 1e9;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Emission(uint256 indexed epoch, uint256 amount, uint256 paid, uint256 owners, bytes32 seed);
    event Bounty(address indexed to, uint256 amount, string reason);

    error NotAuthority();
    error InsufficientBalance(uint256 have, uint256 want);
    error InsufficientAllowance(uint256 have, uint256 want);
    error EpochNotAfter(uint256 epoch, uint256 next);
    error NothingEmitted(uint256 epoch);
    error NothingPaid(uint256 epoch, uint256 owners);
    error OwnersNotSorted(uint256 index);
    error PoolExhausted(uint256 have, uint256 want);
    error NoOwners();
    error ZeroAmount();

    constructor(uint256 supply, uint256 growth, uint256 bounty) {
        authority = msg.sender;
        totalSupply = supply + growth + bounty;
        balanceOf[msg.sender] = supply;
        balanceOf[address(this)] = growth + bounty;
        growthPool0 = growth;
        growthPool = growth;
        bountyPool = bounty;
        emit Transfer(address(0), msg.sender, supply);
        emit Transfer(address(0), address(this), growth + bounty);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 a = allowance[from][msg.sender];
        if (a != type(uint256).max) {
            if (a < value) revert InsufficientAllowance(a, value);
            allowance[from][msg.sender] = a - value;
        }
        _move(from, to, value);
        return true;
    }

    // The emission of epoch k, exactly floor(P0 * 63^k / 2^(6(k+1))) as
    // the ledger computes it with GMP: P0 * 63^k in 128-bit limbs, 21
    // factors of 63 at a time (63^21 < 2^126, so limb * 63^21 + carry
    // fits in 256 bits), then shifted. Past the ledger's cut-off
    // (k * 0.0227 > bits(P0) + 2, where (63/64)^k has made it 0 anyway)
    // it is 0 without the work.
    function emission(uint256 epoch) public view returns (uint256) {
        uint256 p0 = growthPool0;
        if (epoch > MAX_EPOCH || p0 == 0) return 0;
        uint256 bits = 0;
        for (uint256 v = p0; v != 0; v >>= 1) bits++;
        if (epoch * 227 > (bits + 2) * 10000) return 0;
        uint256 mask = type(uint128).max;
        uint256[] memory x = new uint256[]((bits + 6 * epoch) / 128 + 3);
        x[0] = p0 & mask;
        x[1] = p0 >> 128;
        uint256 n = 2;
        unchecked {
            for (uint256 k = epoch; k > 0; ) {
                uint256 m = k < 21 ? k : 21;
                uint256 f = 63 ** m;
                uint256 carry = 0;
                for (uint256 i = 0; i < n; i++) {
                    uint256 v = x[i] * f + carry;
                    x[i] = v & mask;
                    carry = v >> 128;
                }
                for (; carry != 0; carry >>= 128) x[n++] = carry & mask;
                k -= m;
            }
            uint256 s = 6 * (epoch + 1);
            uint256 q = s / 128;
            uint256 r = s % 128;
            if (q >= n) return 0;
            uint256 out = x[q] >> r;
            if (q + 1 < n) out |= x[q + 1] << (128 - r);
            if (q + 2 < n) out |= x[q + 2] << (256 - r);
            return out;
        }
    }

    // The index of the owner drawn as extra i of an emission of n owners.
    function drawn(bytes32 seed, uint256 epoch, uint256 i, uint256 n) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, epoch, i))) % n;
    }

    // Epoch `epoch`, after every epoch emitted before, to the owners
    // (addresses in increasing order, each once).
    function emitGrowth(uint256 epoch, address[] calldata owners) external {
        if (msg.sender != authority) revert NotAuthority();
        if (epoch < nextEpoch) revert EpochNotAfter(epoch, nextEpoch);
        uint256 n = owners.length;
        if (n == 0) revert NoOwners();
        for (uint256 i = 1; i < n; i++)
            if (owners[i - 1] >= owners[i]) revert OwnersNotSorted(i);
        uint256 amount = emission(epoch);
        if (amount == 0) revert NothingEmitted(epoch);
        if (amount > growthPool) revert PoolExhausted(growthPool, amount);
        (uint256 paid, bytes32 seed) = _payEmission(epoch, amount, owners);
        if (paid == 0) revert NothingPaid(epoch, n);
        nextEpoch = epoch + 1;
        growthPool -= paid;
        emit Emission(epoch, amount, paid, n, seed);
    }

    function _payEmission(uint256 epoch, uint256 amount, address[] calldata owners)
        private returns (uint256 paid, bytes32 seed) {
        uint256 n = owners.length;
        uint256 base = amount * 9 / 10;
        uint256 k = n < DRAWS ? n : DRAWS;
        paid = _share(owners, base / n);
        seed = blockhash(block.number - 1);
        paid += _extras(owners, epoch, seed, k, (amount - base) / k);
    }

    function _share(address[] calldata to, uint256 each) private returns (uint256) {
        if (each == 0) return 0;
        for (uint256 i = 0; i < to.length; i++) _move(address(this), to[i], each);
        return each * to.length;
    }

    function _extras(address[] calldata owners, uint256 epoch, bytes32 seed, uint256 k,
        uint256 each) private returns (uint256) {
        if (each == 0) return 0;
        for (uint256 i = 0; i < k; i++)
            _move(address(this), owners[drawn(seed, epoch, i, owners.length)], each);
        return each * k;
    }

    // A bounty for a reported bug, from the bounty pool.
    function payBounty(address to, uint256 amount, string calldata reason) external {
        if (msg.sender != authority) revert NotAuthority();
        if (amount == 0) revert ZeroAmount();
        if (amount > bountyPool) revert PoolExhausted(bountyPool, amount);
        bountyPool -= amount;
        _move(address(this), to, amount);
        emit Bounty(to, amount, reason);
    }

    function _move(address from, address to, uint256 value) private {
        uint256 b = balanceOf[from];
        if (b < value) revert InsufficientBalance(b, value);
        unchecked { balanceOf[from] = b - value; }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
