using System.Net;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>The TLS part of flags &gt; environment (<c>DFBROKER_*</c>) &gt; config file, and its checks.</summary>
internal static class BrokerTlsResolver
{
    public static BrokerTlsOptions Resolve(BrokerCommandLine flags, Func<string, string?> environment, BrokerConfigFile file)
    {
        var insecure = flags.Insecure || Env(environment, "DFBROKER_INSECURE") is { } e && IsTrue(e) || file.Insecure == true;
        var (caFlag, ca) = Pick("--tls-ca", flags.TlsCa, "DFBROKER_TLS_CA", "tlsCa", file.TlsCa, environment);
        var (caKeyFlag, caKey) = Pick("--tls-ca-key", flags.TlsCaKey, "DFBROKER_TLS_CA_KEY", "tlsCaKey", file.TlsCaKey, environment);
        var (certFlag, cert) = Pick("--tls-cert", flags.TlsCert, "DFBROKER_TLS_CERT", "tlsCert", file.TlsCert, environment);
        var (keyFlag, key) = Pick("--tls-key", flags.TlsKey, "DFBROKER_TLS_KEY", "tlsKey", file.TlsKey, environment);
        var (sansFlag, sans) = flags.TlsSans.Count > 0 ? ("--tls-san", flags.TlsSans)
            : Env(environment, "DFBROKER_TLS_SANS") is { } list
                ? ("DFBROKER_TLS_SANS", (IReadOnlyList<string>)list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            : ("tlsSans", file.TlsSans ?? []);
        var (ttlFlag, ttl) = Pick("--cert-ttl", flags.CertTtl, "DFBROKER_CERT_TTL", "certTtl", file.CertTtl, environment);
        var (ciphersFlag, ciphers) = Pick("--tls-ciphers", flags.TlsCiphers, "DFBROKER_TLS_CIPHERS", "tlsCiphers", file.TlsCiphers, environment);

        var problems = Problems(caFlag, ca, caKeyFlag, caKey, certFlag, cert, keyFlag, key, sansFlag, sans, ttlFlag, ttl, ciphersFlag, ciphers, insecure);
        if (problems.Count > 0)
        {
            throw UserFacingException.Usage(problems[0]);
        }
        TlsCiphers.TryParse(ciphers, out var parsedCiphers, out _);
        return new BrokerTlsOptions
        {
            Insecure = insecure,
            CaFile = FullPath(ca),
            CaKeyFile = FullPath(caKey),
            CertFile = FullPath(cert),
            KeyFile = FullPath(key),
            ExtraNames = sans,
            CertTtl = ttl is null ? BrokerTlsOptions.DefaultCertTtl : Durations.TryParse(ttl, out var parsed) ? parsed.Value : BrokerTlsOptions.DefaultCertTtl,
            Ciphers = parsedCiphers!,
        };
    }

    /// <summary>Every problem with the TLS settings, one line each, named as the user gave them.</summary>
    public static List<string> Problems(
        string caName, string? ca, string caKeyName, string? caKey, string certName, string? cert, string keyName, string? key,
        string sansName, IReadOnlyList<string> sans, string ttlName, string? ttl, string ciphersName, string? ciphers, bool insecure)
    {
        var problems = new List<string>();
        if (insecure && (ca ?? caKey ?? cert ?? key) is not null)
        {
            problems.Add($"--insecure turns TLS off, yet {(ca is not null ? caName : caKey is not null ? caKeyName : cert is not null ? certName : keyName)} is given; drop one of them");
        }
        if ((cert is null) != (key is null))
        {
            problems.Add($"{certName} and {keyName}: give both (the server certificate and its private key) or neither");
        }
        if (cert is not null && ca is null)
        {
            problems.Add($"{certName} needs {caName}: the CA that issued it, which clients' certificates must chain to as well");
        }
        if (caKey is not null && ca is null)
        {
            problems.Add($"{caKeyName} needs {caName}: the CA certificate that key belongs to");
        }
        foreach (var name in sans)
        {
            if (!IPAddress.TryParse(name, out _) && Uri.CheckHostName(name) != UriHostNameType.Dns)
            {
                problems.Add($"{sansName} '{name}' is neither a DNS name nor an IP address");
            }
        }
        if (ttl is not null && !Durations.TryParse(ttl, out var duration))
        {
            problems.Add($"{ttlName} '{ttl}' is not a duration; write e.g. 24h, 90m or 7d");
        }
        else if (ttl is not null && Durations.TryParse(ttl, out duration) && duration < TimeSpan.FromMinutes(1))
        {
            problems.Add($"{ttlName} '{ttl}' is too short; certificates must live at least 1m");
        }
        if (!TlsCiphers.TryParse(ciphers, out _, out var cipherError))
        {
            problems.Add($"{ciphersName}: {cipherError}");
        }
        return problems;
    }

    private static (string Name, string? Value) Pick(string flag, string? fromFlag, string variable, string key, string? fromFile, Func<string, string?> environment) =>
        fromFlag is not null ? (flag, fromFlag)
        : Env(environment, variable) is { } fromEnvironment ? (variable, fromEnvironment)
        : fromFile is not null ? (key, fromFile)
        // Not given anywhere: a message about the missing one names the flag.
        : (flag, null);

    private static bool IsTrue(string value) => value is "1" or "true" or "yes";

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);

    private static string? Env(Func<string, string?> environment, string variable) =>
        environment(variable) is { Length: > 0 } value ? value : null;
}
