using System.Net;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Caps on the peer port's open connections (issue 11, attack 7): in total and per remote address, so
/// one host cannot take every socket and handler of the port. Thread-safe.
/// </summary>
internal sealed class ConnectionLimits(int total, int perAddress)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _byAddress = [];
    private int _open;

    /// <summary>Counts a new connection from <paramref name="address"/>; false (nothing counted) when a cap is reached.</summary>
    public bool TryOpen(IPAddress address, out string? refusal)
    {
        lock (_lock)
        {
            if (_open >= total)
            {
                refusal = $"{total} peer connections are open (--peer-max-connections)";
                return false;
            }
            _byAddress.TryGetValue(address, out var fromAddress);
            if (fromAddress >= perAddress)
            {
                refusal = $"{perAddress} connections from {address} are open (--peer-max-connections-per-address)";
                return false;
            }
            _byAddress[address] = fromAddress + 1;
            _open++;
            refusal = null;
            return true;
        }
    }

    public void Close(IPAddress address)
    {
        lock (_lock)
        {
            _open--;
            if (_byAddress.TryGetValue(address, out var fromAddress) && fromAddress > 1)
            {
                _byAddress[address] = fromAddress - 1;
            }
            else
            {
                _byAddress.Remove(address);
            }
        }
    }
}
