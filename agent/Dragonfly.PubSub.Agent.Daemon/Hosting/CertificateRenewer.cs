using System.Globalization;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// Renews the enrolled certificate at two thirds of its lifetime (<c>POST /api/v1/renew</c> with
/// mTLS), writes it into the data dir and swaps it in: the next handshakes use it, no restart.
/// A failed renewal is retried every minute (or sooner near expiry) until the certificate expires.
/// </summary>
internal sealed class CertificateRenewer(AgentIdentity identity, AgentOptions options, RevokedPeers revoked, ILogger<CertificateRenewer> logger) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (identity.TlsDir is not { } dir)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var lifetime = identity.NotAfter - identity.IssuedAt;
            var due = identity.IssuedAt + lifetime * 2 / 3;
            var wait = due - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(Min(wait, TimeSpan.FromDays(1)), stoppingToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                var renewed = await EnrolmentClient.RenewAsync(options.BrokerHttpHost, options.BrokerHttpPort, identity.Current, stoppingToken).ConfigureAwait(false);
                renewed.WriteTo(dir);
                identity.Swap(renewed.ToIdentity(options.Tls.Ciphers, revoked.Contains));
                AgentLog.CertificateRenewed(logger, identity.PeerId, renewed.NotAfter.ToString("u", CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is EnrolmentException or TlsFileException or InvalidOperationException)
            {
                var left = identity.NotAfter - DateTimeOffset.UtcNow;
                AgentLog.RenewalFailed(logger, e.Message, left > TimeSpan.Zero ? $"expires in {left.TotalMinutes:0.0} min" : "expired");
                await Task.Delay(Min(RetryDelay, left > TimeSpan.FromSeconds(4) ? left / 4 : TimeSpan.FromSeconds(1)), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
