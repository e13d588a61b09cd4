// SPDX-License-Identifier: MIT
// DMLToken: the DML token (ERC-20, integer units as on the embedded ledger:
// decimals 0) with the two pools of dml-ledger(1): the user growth pool,
// which emits a decreasing amount per epoch (epoch k pays
// floor(P0 * 63^k / 64^(k+1)), once), and the debug bounty pool, paid out
// by the authority. Both pools are balances of the token contract itself.
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
    mapping(uint256 => bool) public emitted;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Emission(uint256 indexed epoch, uint256 amount, uint256 owners);
    event Bounty(address indexed to, uint256 amount, bytes32 report);

    error NotAuthority();
    error InsufficientBalance(uint256 have, uint256 want);
    error InsufficientAllowance(uint256 have, uint256 want);
    error AlreadyEmitted(uint256 epoch);
    error PoolExhausted(uint256 have, uint256 want);
    error NoOwners();

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

    // The emission of an epoch; reverts (checked arithmetic) when
    // P0 * 63^k no longer fits in 256 bits, long after it has reached 0
    // for any realistic pool.
    function emission(uint256 epoch) public view returns (uint256) {
        uint256 num = growthPool0;
        for (uint256 i = 0; i < epoch; i++) {
            num *= 63;
            if (num == 0) return 0;
        }
        if (6 * (epoch + 1) >= 256) return 0;
        return num >> (6 * (epoch + 1));
    }

    // Epoch k once: 90% in equal floor shares to the owners, the rest in
    // equal floor shares to the drawn extras (or the owners when none are
    // given); what floor division leaves stays in the pool.
    function emitGrowth(uint256 epoch, address[] calldata owners, address[] calldata extras) external {
        if (msg.sender != authority) revert NotAuthority();
        if (emitted[epoch]) revert AlreadyEmitted(epoch);
        if (owners.length == 0) revert NoOwners();
        uint256 amount = emission(epoch);
        if (amount > growthPool) revert PoolExhausted(growthPool, amount);
        emitted[epoch] = true;
        uint256 main = amount * 9 / 10;
        uint256 paid = _share(owners, main);
        paid += _share(extras.length > 0 ? extras : owners, amount - main);
        growthPool -= paid;
        emit Emission(epoch, paid, owners.length);
    }

    function payBounty(address to, uint256 amount, bytes32 report) external {
        if (msg.sender != authority) revert NotAuthority();
        if (amount > bountyPool) revert PoolExhausted(bountyPool, amount);
        bountyPool -= amount;
        _move(address(this), to, amount);
        emit Bounty(to, amount, report);
    }

    function _share(address[] calldata to, uint256 amount) private returns (uint256 paid) {
        uint256 each = amount / to.length;
        if (each == 0) return 0;
        for (uint256 i = 0; i < to.length; i++) _move(address(this), to[i], each);
        return each * to.length;
    }

    function _move(address from, address to, uint256 value) private {
        uint256 b = balanceOf[from];
        if (b < value) revert InsufficientBalance(b, value);
        unchecked { balanceOf[from] = b - value; }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
