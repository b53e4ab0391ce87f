using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// The identity of the bridge's two in-process agents (secure mode): certified directly by the fleet CA
/// (roles agent and publisher, no token), so that the other cluster's broker, which shares the CA, accepts
/// it, and this broker lets it announce. Re-issued on use once two thirds of its life have passed.
/// </summary>
public sealed class BridgeIdentity
{
    private readonly Enrollment _enrollment;
    private readonly BrokerTls _tls;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private TlsIdentity _current;

    public BridgeIdentity(Enrollment enrollment, BrokerTls tls, string brokerId, TimeProvider time)
    {
        _enrollment = enrollment;
        _tls = tls;
        _time = time;
        PeerId = "bridge-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(brokerId)))[..12];
        _current = Issue();
    }

    public string PeerId { get; }

    /// <summary>Asked at every handshake.</summary>
    public TlsIdentity Current
    {
        get
        {
            var certificate = Volatile.Read(ref _current).Certificate;
            var due = certificate.NotBefore.ToUniversalTime() + (certificate.NotAfter - certificate.NotBefore) * 2 / 3;
            if (_time.GetUtcNow().UtcDateTime >= due)
            {
                lock (_lock)
                {
                    if (ReferenceEquals(_current.Certificate, certificate))
                    {
                        Volatile.Write(ref _current, Issue());
                    }
                }
            }
            return Volatile.Read(ref _current);
        }
    }

    private TlsIdentity Issue() =>
        new(_tls.Trusted, _enrollment.IssueBridge(PeerId), _tls.Current.Ciphers, _tls.Current.IsRevoked, _time);
}
