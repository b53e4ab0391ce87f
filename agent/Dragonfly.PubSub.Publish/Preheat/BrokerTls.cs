using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Publish.Preheat;

/// <summary>
/// How dfpub preheat reaches the broker's HTTPS API: trusting only the fleet CA (the agent's
/// <c>&lt;data-dir&gt;/tls/ca.crt</c>, or <c>--tls-ca</c>) and presenting the agent's client
/// certificate (or <c>--tls-cert/--tls-key</c>), which the broker requires for a preheat.
/// </summary>
internal static class BrokerTls
{
    /// <exception cref="UserFacingException">No usable certificate files.</exception>
    public static SocketsHttpHandler Handler(Uri brokerUrl, string dataDir, string? cert, string? key, string? ca)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (brokerUrl.Scheme != Uri.UriSchemeHttps)
        {
            return handler;
        }
        var dir = TlsFiles.DirectoryFor(dataDir);
        cert ??= Path.Combine(dir, TlsFiles.AgentCertificate);
        key ??= Path.Combine(dir, TlsFiles.AgentKey);
        ca ??= Path.Combine(dir, TlsFiles.CaCertificate);
        if (!File.Exists(cert) || !File.Exists(ca))
        {
            handler.Dispose();
            throw UserFacingException.Usage(
                $"no client certificate for the broker's HTTPS API: {cert} or {ca} is missing; pass the --data-dir of an enrolled agent, --tls-cert/--tls-key/--tls-ca, or --insecure for a broker without TLS");
        }
        try
        {
            handler.SslOptions = TlsIdentity.Load(cert, key, ca, TlsCiphers.Default).ClientOptions(brokerUrl.IdnHost);
        }
        catch (TlsFileException e)
        {
            handler.Dispose();
            throw new UserFacingException(e.Message);
        }
        return handler;
    }
}
