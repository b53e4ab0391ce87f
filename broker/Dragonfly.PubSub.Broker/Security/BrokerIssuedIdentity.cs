using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// An identity the broker issues to a peer it runs in-process (its seed, the bridge's agents): certified
/// directly by the broker's CA (no token), with a peer id derived from the broker's id so that it stays the
/// same across restarts, and re-issued once two thirds of its life have passed — by <see cref="RenewIfDue"/>
/// on the renewal timer, or on the first use of <see cref="Current"/> after that.
/// </summary>
public abstract class BrokerIssuedIdentity
{
    private readonly Func<string, X509Certificate2> _issue;
    private readonly BrokerTls _tls;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private TlsIdentity _current;

    /// <param name="prefix">The peer id's prefix, saying what the peer is (<c>seed-</c>, <c>bridge-</c>).</param>
    /// <param name="issue">Issues the certificate for a peer id, with the roles of this kind of peer.</param>
    protected BrokerIssuedIdentity(string prefix, Func<string, X509Certificate2> issue, BrokerTls tls, string brokerId, TimeProvider time)
    {
        _issue = issue;
        _tls = tls;
        _time = time;
        PeerId = prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(brokerId)))[..12];
        _current = Issue();
    }

    public string PeerId { get; }

    /// <summary>Asked at every handshake: the current identity, renewed first when it is due.</summary>
    public TlsIdentity Current
    {
        get
        {
            RenewIfDue();
            return Volatile.Read(ref _current);
        }
    }

    /// <summary>Re-issues the certificate once two thirds of its life have passed; true when it did.</summary>
    public bool RenewIfDue()
    {
        var certificate = Volatile.Read(ref _current).Certificate;
        var due = certificate.NotBefore.ToUniversalTime() + (certificate.NotAfter - certificate.NotBefore) * 2 / 3;
        if (_time.GetUtcNow().UtcDateTime < due)
        {
            return false;
        }
        lock (_lock)
        {
            // Another caller may have renewed it meanwhile.
            if (ReferenceEquals(_current.Certificate, certificate))
            {
                Volatile.Write(ref _current, Issue());
            }
        }
        return true;
    }

    private TlsIdentity Issue() =>
        new(_tls.Trusted, _issue(PeerId), _tls.Current.Ciphers, _tls.Current.IsRevoked, _time);
}
