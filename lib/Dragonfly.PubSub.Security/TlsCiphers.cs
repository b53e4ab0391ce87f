using System.Diagnostics.CodeAnalysis;
using System.Net.Security;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// The TLS 1.3 cipher choice (<c>--tls-ciphers</c>): <c>aes-128-gcm</c>, <c>aes-256-gcm</c>,
/// <c>chacha20-poly1305</c>, a comma-separated list of them in order of preference, or <c>default</c>
/// (both AES-GCM suites, AES-128 first: the CPUs we run on have AES-NI, where AES-GCM is the fastest).
/// </summary>
public sealed class TlsCiphers
{
    public const string DefaultName = "default";

    private static readonly (string Name, TlsCipherSuite Suite)[] Known =
    [
        ("aes-128-gcm", TlsCipherSuite.TLS_AES_128_GCM_SHA256),
        ("aes-256-gcm", TlsCipherSuite.TLS_AES_256_GCM_SHA384),
        ("chacha20-poly1305", TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256),
    ];

    private TlsCiphers(string name, IReadOnlyList<TlsCipherSuite> suites)
    {
        Name = name;
        Suites = suites;
    }

    public static TlsCiphers Default { get; } = new(DefaultName, [TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384]);

    /// <summary>The names accepted on the command line, for help and error text.</summary>
    public static string Choices => string.Join("|", Known.Select(k => k.Name)) + "|" + DefaultName;

    /// <summary>As given (normalised): "default", "aes-256-gcm", "chacha20-poly1305,aes-128-gcm", ...</summary>
    public string Name { get; }

    /// <summary>The TLS 1.3 suites offered or accepted, most preferred first.</summary>
    public IReadOnlyList<TlsCipherSuite> Suites { get; }

    /// <summary>The policy for SslStream options; null where the platform has no cipher suite policy (Windows), which then uses its own defaults.</summary>
    public CipherSuitesPolicy? Policy() =>
        OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? new CipherSuitesPolicy(Suites) : null;

    /// <summary>The OpenSSL name of a suite, e.g. for <c>openssl s_client -ciphersuites</c>.</summary>
    public static string OpenSslName(TlsCipherSuite suite) => suite.ToString();

    public static bool TryParse(string? text, [NotNullWhen(true)] out TlsCiphers? ciphers, [NotNullWhen(false)] out string? error)
    {
        ciphers = null;
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == DefaultName)
        {
            ciphers = Default;
            error = null;
            return true;
        }
        var names = new List<string>();
        var suites = new List<TlsCipherSuite>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = part.ToLowerInvariant();
            var match = Array.FindIndex(Known, k => k.Name == name);
            if (match < 0)
            {
                error = $"unknown TLS cipher '{part}'; choose {Choices} (or a comma-separated list)";
                return false;
            }
            if (!suites.Contains(Known[match].Suite))
            {
                names.Add(name);
                suites.Add(Known[match].Suite);
            }
        }
        if (suites.Count == 0)
        {
            error = $"no TLS cipher given; choose {Choices}";
            return false;
        }
        ciphers = new TlsCiphers(string.Join(",", names), suites);
        error = null;
        return true;
    }

    public override string ToString() => Name;
}
