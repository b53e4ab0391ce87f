using System.Globalization;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// Finds the agent's identity at start: the hosting process's, static files, the certificate
/// enrolment left in <c>&lt;data-dir&gt;/tls</c>, or a new enrolment with the join token. Every
/// failure is one line that says what to do.
/// </summary>
internal static class IdentityLoader
{
    /// <returns>Null with <c>--insecure</c>.</returns>
    /// <exception cref="UserFacingException">No usable certificate and no (valid) token, or enrolment failed.</exception>
    public static async Task<AgentIdentity?> LoadAsync(AgentOptions options, RevokedPeers revoked, ILogger logger, CancellationToken ct)
    {
        var tls = options.Tls;
        if (tls.Insecure)
        {
            return null;
        }
        if (tls.Identity is { } hosted)
        {
            return AgentIdentity.Hosted(hosted, revoked);
        }
        if (tls.HasStaticFiles)
        {
            var identity = Load(tls.CertFile!, tls.KeyFile!, tls.CaFile!, tls, revoked);
            ThrowIfExpired(identity, tls.CertFile!, "replace it (--tls-cert/--tls-key)");
            return AgentIdentity.FromIdentity(identity, revoked, tlsDir: null);
        }
        var dir = TlsFiles.DirectoryFor(options.DataDir);
        var certPath = Path.Combine(dir, TlsFiles.AgentCertificate);
        if (File.Exists(certPath))
        {
            var identity = Load(certPath, Path.Combine(dir, TlsFiles.AgentKey), Path.Combine(dir, TlsFiles.CaCertificate), tls, revoked);
            var expired = identity.Certificate.NotAfter.ToUniversalTime() <= DateTime.UtcNow;
            if (!expired)
            {
                return AgentIdentity.FromIdentity(identity, revoked, dir);
            }
            if (tls.JoinToken is null)
            {
                throw new UserFacingException(string.Create(CultureInfo.InvariantCulture,
                    $"the certificate in {dir} expired at {identity.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z; enrol again with --join-token (dfbroker token create --role agent)"));
            }
            AgentLog.CertificateExpiredReenrolling(logger, dir);
        }
        else if (tls.JoinToken is null)
        {
            throw new UserFacingException(
                $"no certificate in {dir} and no join token; enrol with --join-token TOKEN (dfbroker token create --role agent), give --tls-cert/--tls-key/--tls-ca, or run every process with --insecure");
        }
        var enrolled = await EnrolAsync(options, ct).ConfigureAwait(false);
        try
        {
            enrolled.WriteTo(dir);
        }
        catch (TlsFileException e)
        {
            throw new UserFacingException(e.Message);
        }
        AgentLog.Enrolled(logger, enrolled.PeerId, enrolled.Role, enrolled.NotAfter.ToString("u", CultureInfo.InvariantCulture), dir);
        return AgentIdentity.FromIdentity(enrolled.ToIdentity(tls.Ciphers, revoked.Contains), revoked, dir);
    }

    private static async Task<EnrolledCertificate> EnrolAsync(AgentOptions options, CancellationToken ct)
    {
        if (!JoinToken.TryParse(options.Tls.JoinToken, out var token, out var error))
        {
            throw UserFacingException.Usage($"the join token is not valid ({error})");
        }
        try
        {
            return await EnrolmentClient.EnrollAsync(options.BrokerHttpHost, options.BrokerHttpPort, token, ct).ConfigureAwait(false);
        }
        catch (EnrolmentException e)
        {
            throw new UserFacingException($"enrolment failed: {e.Message}");
        }
    }

    private static TlsIdentity Load(string cert, string key, string ca, AgentTlsSettings tls, RevokedPeers revoked)
    {
        try
        {
            return TlsIdentity.Load(cert, key, ca, tls.Ciphers, revoked.Contains);
        }
        catch (TlsFileException e)
        {
            throw new UserFacingException(e.Message);
        }
    }

    private static void ThrowIfExpired(TlsIdentity identity, string path, string remedy)
    {
        if (identity.Certificate.NotAfter.ToUniversalTime() <= DateTime.UtcNow)
        {
            throw new UserFacingException(string.Create(CultureInfo.InvariantCulture,
                $"the certificate {path} expired at {identity.Certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z; {remedy}"));
        }
    }
}
