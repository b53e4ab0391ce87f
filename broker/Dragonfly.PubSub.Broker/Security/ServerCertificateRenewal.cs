using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Re-issues the broker's server certificate and its seed's when two thirds of their life have passed, so a long-running broker never serves an expired one.</summary>
internal sealed class ServerCertificateRenewal(
    BrokerTls tls, Configuration.BrokerOptions options, TimeProvider time, ILogger<ServerCertificateRenewal> logger, SeedIdentity? seed = null) : BackgroundService
{
    private static readonly TimeSpan MaxInterval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Often enough for a short --cert-ttl (tests), at least every hour.
        var interval = TimeSpan.FromTicks(Math.Min(MaxInterval.Ticks, options.Tls.CertTtl.Ticks / 6));
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (tls.RenewServerCertificateIfDue())
            {
                BrokerLog.ServerCertificateRenewed(logger, tls.Current.Certificate.NotAfter.ToUniversalTime());
            }
            // The seed's certificate lives --cert-ttl like every peer's (the seed itself does not renew).
            seed?.RenewIfDue();
        }
    }
}
