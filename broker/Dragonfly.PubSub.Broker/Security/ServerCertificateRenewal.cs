using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Re-issues the broker's server certificate when two thirds of its life have passed (checked hourly), so a long-running broker never serves an expired one.</summary>
internal sealed class ServerCertificateRenewal(BrokerTls tls, TimeProvider time, ILogger<ServerCertificateRenewal> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (tls.RenewServerCertificateIfDue())
            {
                BrokerLog.ServerCertificateRenewed(logger, tls.Current.Certificate.NotAfter.ToUniversalTime());
            }
        }
    }
}
