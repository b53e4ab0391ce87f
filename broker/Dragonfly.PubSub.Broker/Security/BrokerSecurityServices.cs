using Dragonfly.PubSub.Broker.Configuration;
using Grpc.AspNetCore.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Registers identity and TLS services: all of them in secure mode, only the pass-through gate with <c>--insecure</c>.</summary>
public static class BrokerSecurityServices
{
    public static IServiceCollection AddBrokerSecurity(this IServiceCollection services, BrokerOptions options, SecurityStore store, RevocationList revocations, BrokerTls? tls)
    {
        services.AddSingleton(store);
        services.AddSingleton(revocations);
        // Who may use the HTTP API (loopback, API tokens, certificates); passes everything with --insecure.
        services.AddSingleton(sp => new ApiAccessPolicy(tls, sp.GetRequiredService<Hosting.BoundPorts>(), store,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ApiAccessPolicy>>()));
        if (tls is null)
        {
            services.AddSingleton(sp => new ClientCertificateGate(null, sp.GetRequiredService<ILogger<ClientCertificateGate>>()));
            services.AddSingleton(sp => new SchedulerPermissions(secure: false, sp.GetRequiredService<ILogger<SchedulerPermissions>>()));
            return services;
        }
        services.AddSingleton(tls);
        // Picked up by AnnouncementPublisher: every announcement is signed (without it, with --insecure, none is).
        services.AddSingleton(tls.AnnouncementSigner);
        services.AddSingleton<ClientCertificateGate>();
        services.AddSingleton<LiveSchedulerStreams>();
        services.AddSingleton<MqttPermissions>();
        services.AddSingleton<MqttIdentityCheck>();
        services.AddSingleton<SchedulerIdentityInterceptor>();
        services.AddSingleton(sp => new SchedulerPermissions(secure: true, sp.GetRequiredService<ILogger<SchedulerPermissions>>()));
        services.AddSingleton(sp => new Enrollment(
            tls, store, revocations, options.Tls.CertTtl, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Enrollment>>()));
        services.AddSingleton(sp => new SecurityAdmin(
            store, revocations, tls.CaPin, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SecurityAdmin>>()));
        if (options.Seed)
        {
            services.AddSingleton(sp => new SeedIdentity(
                sp.GetRequiredService<Enrollment>(), tls, sp.GetRequiredService<Catalogue.ManifestCatalogue>().BrokerId, sp.GetRequiredService<TimeProvider>()));
        }
        services.AddSingleton<RevocationEnforcer>();
        services.AddHostedService(sp => sp.GetRequiredService<RevocationEnforcer>());
        services.AddHostedService<ServerCertificateRenewal>();
        services.Configure<GrpcServiceOptions>(grpc => grpc.Interceptors.Add<SchedulerIdentityInterceptor>());
        return services;
    }
}
