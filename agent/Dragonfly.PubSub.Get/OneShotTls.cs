using System.Diagnostics;
using Dragonfly.PubSub.Agent.Configuration;

namespace Dragonfly.PubSub.Get;

/// <summary>How dfget's one-shot agent authenticates: dfagent's TLS flags, and where the broker's HTTPS API is (for enrolment).</summary>
internal sealed record OneShotTls(AgentTlsSettings Settings, string? BrokerHttp)
{
    /// <summary>Hands these settings to the dfagent child: flags, and the join token in its environment (not visible in ps).</summary>
    public void ApplyTo(ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (Settings.Insecure)
        {
            start.ArgumentList.Add("--insecure");
        }
        if (Settings.JoinToken is { } token)
        {
            start.Environment["DFAGENT_JOIN_TOKEN"] = token;
        }
        if (Settings.CertFile is { } cert)
        {
            foreach (var arg in (string[])["--tls-cert", cert, "--tls-key", Settings.KeyFile!, "--tls-ca", Settings.CaFile!])
            {
                start.ArgumentList.Add(arg);
            }
        }
        if (!Settings.Insecure)
        {
            start.ArgumentList.Add("--tls-ciphers");
            start.ArgumentList.Add(Settings.Ciphers.Name);
        }
        if (BrokerHttp is { } http)
        {
            start.ArgumentList.Add("--broker-http");
            start.ArgumentList.Add(http);
        }
    }
}
