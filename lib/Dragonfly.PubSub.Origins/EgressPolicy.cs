using System.Net;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Origins;

/// <summary>
/// Which addresses a process may fetch origins from. The broker restricts its own (the URL task's stat
/// and its seed) so that a URL task cannot turn the broker's network position against its own network
/// (server-side request forgery): loopback, link-local (the cloud metadata service 169.254.169.254),
/// private, shared (100.64/10), unique-local, multicast and reserved addresses are refused unless an
/// allowance (<c>--allow-origin HOST|IP|CIDR</c>) names them. The check runs on every connection an
/// origin opens, after DNS resolution, so every redirect and every name that resolves inward is caught
/// and the address checked is the one connected to. Immutable and thread-safe.
/// </summary>
public sealed class EgressPolicy
{
    private static readonly IPNetwork[] Internal =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"),
        IPNetwork.Parse("fec0::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    private readonly IReadOnlyList<IPNetwork> _networks;
    private readonly IReadOnlySet<string> _hosts;

    private EgressPolicy(bool restricted, IReadOnlyList<IPNetwork> networks, IReadOnlySet<string> hosts)
    {
        IsRestricted = restricted;
        _networks = networks;
        _hosts = hosts;
    }

    /// <summary>Every address allowed (agents fetch for themselves, on their own host).</summary>
    public static EgressPolicy Unrestricted { get; } = new(false, [], new HashSet<string>());

    /// <summary>Public addresses only: no allowance.</summary>
    public static EgressPolicy PublicOnlyWithoutAllowances { get; } = new(true, [], new HashSet<string>());

    /// <summary>Public addresses, plus the internal ones <paramref name="allowances"/> name (host names, IP addresses, CIDRs).</summary>
    /// <exception cref="FormatException">An allowance that is none of these, with a one-line message.</exception>
    public static EgressPolicy PublicOnly(IEnumerable<string> allowances)
    {
        var networks = new List<IPNetwork>();
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var allowance in allowances)
        {
            if (ParseAllowance(allowance) is { } problem)
            {
                throw new FormatException(problem);
            }
            var text = allowance.Trim();
            if (IPNetwork.TryParse(text, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(text.Trim('[', ']'), out var address))
            {
                networks.Add(new IPNetwork(Normalise(address), address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                hosts.Add(text.TrimEnd('.'));
            }
        }
        return new EgressPolicy(true, networks, hosts);
    }

    public bool IsRestricted { get; }

    /// <summary>Null when <paramref name="allowance"/> is a host name, an IP address or a CIDR; otherwise what is wrong (one line).</summary>
    public static string? ParseAllowance(string? allowance)
    {
        var text = allowance?.Trim() ?? "";
        if (text.Length == 0)
        {
            return "--allow-origin: an empty value; give a host name, an IP address or a CIDR such as 10.0.0.0/8";
        }
        if (text.Contains('/', StringComparison.Ordinal))
        {
            // The address must be the network's first: 10.0.0.1/8 is more likely a typo than a wish for 10/8.
            return IPNetwork.TryParse(text, out var network) && IPAddress.TryParse(text[..text.IndexOf('/', StringComparison.Ordinal)], out var first)
                && network.BaseAddress.Equals(first)
                ? null
                : $"--allow-origin '{allowance}' is not a CIDR; write e.g. 10.0.0.0/8 or fd00::/8 (the address must be the network's first)";
        }
        if (IPAddress.TryParse(text.Trim('[', ']'), out _) || Uri.CheckHostName(text.TrimEnd('.')) == UriHostNameType.Dns)
        {
            return null;
        }
        return $"--allow-origin '{allowance}' is not a host name, an IP address or a CIDR";
    }

    /// <summary>Whether <paramref name="address"/> lies in a range that is not the public internet.</summary>
    public static bool IsInternal(IPAddress address)
    {
        var normal = Normalise(address);
        return Internal.Any(network => network.Contains(normal));
    }

    /// <summary>Null when a connection to <paramref name="address"/> (resolved from <paramref name="host"/>) is allowed; otherwise why not.</summary>
    public string? Refusal(string host, IPAddress address)
    {
        var normal = Normalise(address);
        if (!IsRestricted || !IsInternal(normal) || _hosts.Contains(host.TrimEnd('.')) || _networks.Any(n => n.Contains(normal)))
        {
            return null;
        }
        return $"origin host {host} is {normal}, an internal address this broker does not fetch from (loopback, link-local, private or reserved); "
            + $"if it is a trusted origin, start dfbroker with --allow-origin {host} (or --allow-origin {normal})";
    }

    /// <summary>
    /// Resolves <paramref name="host"/> and connects to the first allowed address that answers. Throws an
    /// <see cref="OriginException"/> of kind <see cref="OriginErrorKind.EgressRefused"/> without opening
    /// any connection when every address is refused.
    /// </summary>
    public async Task<Socket> ConnectAsync(string host, int port, string redactedUrl, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        string? refusal = null;
        SocketException? failure = null;
        foreach (var address in addresses)
        {
            if (Refusal(host, address) is { } why)
            {
                refusal ??= why;
                continue;
            }
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                failure = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        if (failure is not null)
        {
            throw failure;
        }
        if (refusal is not null)
        {
            throw new OriginException(OriginErrorKind.EgressRefused, $"{refusal}: {redactedUrl}", redactedUrl);
        }
        throw new SocketException((int)SocketError.HostNotFound);
    }

    private static IPAddress Normalise(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
