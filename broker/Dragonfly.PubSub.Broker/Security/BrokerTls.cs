using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The broker's TLS state: the fleet CA (built-in in &lt;data-dir&gt;/tls, or given), the trusted CA
/// certificates and the current server identity, whose certificate is issued at every start (and again
/// when two thirds of its life have passed) unless <c>--tls-cert</c> gives one. Kestrel asks
/// <see cref="ServerOptions"/> on every handshake, so a re-issued certificate or a new revocation
/// applies to the next connection.
/// </summary>
public sealed class BrokerTls : IDisposable
{
    /// <summary>The broker's own certificate outlives peer certificates: it is re-issued while running anyway.</summary>
    public static readonly TimeSpan ServerCertificateLifetime = TimeSpan.FromDays(30);

    private readonly BrokerOptions _options;
    private readonly RevocationList _revocations;
    private readonly TimeProvider _time;
    private TlsIdentity _current;

    private BrokerTls(BrokerOptions options, FleetCa? ca, X509Certificate2Collection trusted, TlsIdentity current, RevocationList revocations, TimeProvider time)
    {
        _options = options;
        Ca = ca;
        // Signed announcements (issue 11): a key of its own certified by the CA; with a CA given without its
        // key, the server certificate's key (agents then need that certificate to carry the broker role).
        AnnouncementSigner = ca is not null
            ? AnnouncementSigner.LoadOrCreate(TlsFiles.DirectoryFor(options.DataDir), ca)
            : AnnouncementSigner.FromCertificate(current.Certificate);
        Trusted = trusted;
        _current = current;
        _revocations = revocations;
        _time = time;
    }

    /// <summary>The CA that issues peer certificates; null when the broker was given a CA without its key.</summary>
    public FleetCa? Ca { get; }

    public X509Certificate2Collection Trusted { get; }

    /// <summary>The key announcements are signed with, and its certificate.</summary>
    public AnnouncementSigner AnnouncementSigner { get; }

    /// <summary>The CA certificate peers are told to trust (the first trusted one), as PEM.</summary>
    public string CaCertificatePem => (Ca?.Certificate ?? Trusted[0]).ExportCertificatePem();

    /// <summary>The pin of <see cref="CaCertificatePem"/> that join tokens carry.</summary>
    public string CaPin => JoinToken.PinOf(Ca?.Certificate ?? Trusted[0]);

    public TlsIdentity Current => Volatile.Read(ref _current);

    public string TlsDirectory => TlsFiles.DirectoryFor(_options.DataDir);

    /// <summary>Loads or creates the CA and makes the server identity; a bad file is one line (exit 1).</summary>
    public static BrokerTls Start(BrokerOptions options, RevocationList revocations, TimeProvider time)
    {
        var tls = options.Tls;
        var directory = TlsFiles.DirectoryFor(options.DataDir);
        try
        {
            FleetCa? ca;
            X509Certificate2Collection trusted;
            if (tls.BuiltInCa)
            {
                ca = FleetCa.LoadOrCreate(directory, time);
                trusted = [X509CertificateLoader.LoadCertificate(ca.Certificate.RawData)];
            }
            else
            {
                trusted = TlsFiles.LoadCertificates(tls.CaFile!);
                ca = tls.CaKeyFile is null ? null : FleetCa.Load(tls.CaFile!, tls.CaKeyFile, time);
                // `dfbroker token create` with the broker stopped reads the CA to pin from here.
                TlsFiles.WritePublic(Path.Combine(directory, TlsFiles.CaCertificate), trusted[0].ExportCertificatePem());
            }
            var identity = new TlsIdentity(trusted, ServerCertificate(options, ca, time), tls.Ciphers, revocations.IsRevoked, time);
            return new BrokerTls(options, ca, trusted, identity, revocations, time);
        }
        catch (TlsFileException e)
        {
            throw new UserFacingException($"{e.Message}; fix the file or the --tls-* flags", ExitCodes.Failed, e);
        }
    }

    public SslServerAuthenticationOptions ServerOptions(bool requireClientCertificate) => Current.ServerOptions(requireClientCertificate);

    public CertificateCheck Check(X509Certificate2 certificate) => Current.Check(certificate);

    /// <summary>Re-issues the server certificate once two thirds of its life have passed; true when it did.</summary>
    public bool RenewServerCertificateIfDue()
    {
        var current = Current.Certificate;
        var lifetime = current.NotAfter - current.NotBefore;
        if (Ca is null || _options.Tls.CertFile is not null || _time.GetUtcNow().UtcDateTime < current.NotBefore.ToUniversalTime() + lifetime * 2 / 3)
        {
            return false;
        }
        var renewed = new TlsIdentity(Trusted, ServerCertificate(_options, Ca, _time), _options.Tls.Ciphers, _revocations.IsRevoked, _time);
        Volatile.Write(ref _current, renewed);
        return true;
    }

    /// <summary>The names in the issued server certificate: loopback, the host name, the listen address and --tls-san.</summary>
    public static (IReadOnlyList<string> Dns, IReadOnlyList<IPAddress> Addresses) ServerNames(BrokerOptions options)
    {
        var dns = new List<string> { "localhost" };
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        var host = Dns.GetHostName();
        if (Uri.CheckHostName(host) == UriHostNameType.Dns)
        {
            dns.Add(host);
        }
        if (!options.Listen.Equals(IPAddress.Any) && !options.Listen.Equals(IPAddress.IPv6Any))
        {
            addresses.Add(options.Listen);
        }
        foreach (var name in options.Tls.ExtraNames)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                dns.Add(name);
            }
        }
        return ([.. dns.Distinct(StringComparer.OrdinalIgnoreCase)], [.. addresses.Distinct()]);
    }

    private static X509Certificate2 ServerCertificate(BrokerOptions options, FleetCa? ca, TimeProvider time)
    {
        var tls = options.Tls;
        if (tls.CertFile is not null)
        {
            return TlsFiles.LoadCertificateWithKey(tls.CertFile, tls.KeyFile!);
        }
        if (ca is null)
        {
            throw new TlsFileException($"{tls.CaFile} is given without --tls-ca-key and without --tls-cert/--tls-key, so the broker has no server certificate");
        }
        var (dns, addresses) = ServerNames(options);
        var certificate = ca.IssueWithNewKey(new PeerIdentity("dfbroker", PeerRole.Broker, []), ServerCertificateLifetime, dns, addresses);
        var directory = TlsFiles.DirectoryFor(options.DataDir);
        TlsFiles.WriteCertificateAndKey(certificate, Path.Combine(directory, TlsFiles.BrokerCertificate), Path.Combine(directory, TlsFiles.BrokerKey));
        return certificate;
    }

    public void Dispose()
    {
        AnnouncementSigner.Dispose();
        Ca?.Dispose();
    }
}
