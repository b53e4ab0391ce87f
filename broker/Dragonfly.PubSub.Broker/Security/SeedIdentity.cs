using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The identity of the broker's in-process seed: certified directly by the broker's CA (role seed, no
/// token), with a peer id that stays the same across restarts, and re-issued at two thirds of its life.
/// The seed asks <see cref="Current"/> at every handshake.
/// </summary>
public sealed class SeedIdentity
{
    private readonly Enrollment _enrollment;
    private readonly BrokerTls _tls;
    private readonly TimeProvider _time;
    private TlsIdentity _current;

    public SeedIdentity(Enrollment enrollment, BrokerTls tls, string brokerId, TimeProvider time)
    {
        _enrollment = enrollment;
        _tls = tls;
        _time = time;
        PeerId = "seed-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(brokerId)))[..12];
        _current = Issue();
    }

    public string PeerId { get; }

    public TlsIdentity Current => Volatile.Read(ref _current);

    /// <summary>Re-issues the seed's certificate once two thirds of its life have passed; true when it did.</summary>
    public bool RenewIfDue()
    {
        var certificate = Current.Certificate;
        var due = certificate.NotBefore.ToUniversalTime() + (certificate.NotAfter - certificate.NotBefore) * 2 / 3;
        if (_time.GetUtcNow().UtcDateTime < due)
        {
            return false;
        }
        Volatile.Write(ref _current, Issue());
        return true;
    }

    private TlsIdentity Issue() =>
        new(_tls.Trusted, _enrollment.IssueSeed(PeerId), _tls.Current.Ciphers, _tls.Current.IsRevoked, _time);
}
