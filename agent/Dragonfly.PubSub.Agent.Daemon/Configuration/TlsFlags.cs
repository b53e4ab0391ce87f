using System.CommandLine;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// The TLS flags dfagent and dfget share: <c>--join-token</c>, <c>--token-file</c>,
/// <c>--tls-cert/--tls-key/--tls-ca</c>, <c>--insecure</c>, <c>--tls-ciphers</c>
/// (env <c>DFAGENT_JOIN_TOKEN</c>..., config keys <c>joinToken</c>...).
/// </summary>
public sealed class TlsFlags
{
    private TlsFlags()
    {
    }

    public Option<string?> JoinToken { get; } = new("--join-token") { Description = "Join token from 'dfbroker token create --role agent': enrols this agent once (its certificate then lives in <data-dir>/tls). Prefer DFAGENT_JOIN_TOKEN or --token-file over the command line." };
    public Option<string?> TokenFile { get; } = new("--token-file") { Description = "File holding the join token (first line)." };
    public Option<string?> Cert { get; } = new("--tls-cert") { Description = "PEM certificate of this agent (CN = its peer id), from the fleet CA or your own; with --tls-key and --tls-ca, instead of enrolment." };
    public Option<string?> Key { get; } = new("--tls-key") { Description = "PEM private key of --tls-cert." };
    public Option<string?> Ca { get; } = new("--tls-ca") { Description = "PEM CA certificate(s) this agent trusts (the fleet CA); no system roots are trusted." };
    public Option<bool> Insecure { get; } = new("--insecure") { Description = "No TLS anywhere (plain MQTT 1883, h2c gRPC, plain peer port): only for a fleet where every process runs with --insecure. Logs a warning." };
    public Option<string?> Ciphers { get; } = new("--tls-ciphers") { Description = $"TLS 1.3 cipher suites: {TlsCiphers.Choices} (default: AES-128-GCM then AES-256-GCM)." };

    public static TlsFlags Create() => new();

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in (Option[])[JoinToken, TokenFile, Cert, Key, Ca, Insecure, Ciphers])
        {
            command.Options.Add(option);
        }
    }

    /// <exception cref="UserFacingException">Usage (exit 2): conflicting or incomplete TLS settings, an unreadable token file, an unknown cipher.</exception>
    public AgentTlsSettings Read(SettingSources s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var insecure = s.Bool(Insecure);
        var token = s.String(JoinToken);
        var tokenFile = s.String(TokenFile);
        if (token is not null && tokenFile is not null)
        {
            throw UserFacingException.Usage("give either --join-token or --token-file, not both");
        }
        if (tokenFile is not null)
        {
            token = ReadTokenFile(tokenFile);
        }
        if (token is not null && !Security.JoinToken.TryParse(token.Trim(), out _, out var tokenError))
        {
            throw UserFacingException.Usage($"the join token is not valid: {tokenError}");
        }
        var (cert, key, ca) = (s.String(Cert), s.String(Key), s.String(Ca));
        if ((cert, key, ca) is not (null, null, null) && (cert is null || key is null || ca is null))
        {
            throw UserFacingException.Usage("--tls-cert, --tls-key and --tls-ca go together; give all three");
        }
        if (cert is not null && token is not null)
        {
            throw UserFacingException.Usage("give either certificate files (--tls-cert/--tls-key/--tls-ca) or a join token, not both");
        }
        var cipherText = s.String(Ciphers);
        var ciphers = TlsCiphers.Default;
        if (cipherText is not null && !TlsCiphers.TryParse(cipherText, out ciphers, out var cipherError))
        {
            throw UserFacingException.Usage($"--tls-ciphers: {cipherError}");
        }
        if (insecure && (token is not null || cert is not null || cipherText is not null))
        {
            throw UserFacingException.Usage("--insecure turns TLS off; drop it, or drop the join token, certificate and cipher settings");
        }
        return new AgentTlsSettings
        {
            Insecure = insecure,
            JoinToken = token?.Trim(),
            CertFile = cert is null ? null : Path.GetFullPath(cert),
            KeyFile = key is null ? null : Path.GetFullPath(key),
            CaFile = ca is null ? null : Path.GetFullPath(ca),
            Ciphers = ciphers!,
        };
    }

    private static string ReadTokenFile(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault(l => l.Trim().Length > 0)?.Trim()
                ?? throw UserFacingException.Usage($"--token-file {path} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw UserFacingException.Usage($"cannot read --token-file {path}: {e.Message}");
        }
    }
}
