using Dragonfly.PubSub.Broker.Swarm;
using Microsoft.Extensions.DependencyInjection;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>Registers the dashboard's parts (the activity record and fleet registry come with the coordinator).</summary>
internal static class DashboardServices
{
    public static IServiceCollection AddBrokerDashboard(this IServiceCollection services)
    {
        DashboardMetrics.EnsureRegistered();
        services.AddSingleton<TrafficHistory>();
        services.AddHostedService(sp => sp.GetRequiredService<TrafficHistory>());
        services.AddSingleton<DashboardBuilder>();
        services.AddSingleton<DashboardCache>();
        return services;
    }
}
