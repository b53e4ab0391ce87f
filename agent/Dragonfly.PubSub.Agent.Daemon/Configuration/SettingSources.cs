using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// Resolves each setting from, in order: the command line, the environment
/// (<c>DFAGENT_DOWNLOAD_LIMIT</c> for <c>--download-limit</c>), the JSON config file
/// (<c>"downloadLimit"</c>), then the built-in default.
/// </summary>
public sealed class SettingSources
{
    private readonly ParseResult _parse;
    private readonly JsonElement? _file;
    private readonly string _envPrefix;

    public SettingSources(ParseResult parse, string? configPath, string envPrefix)
    {
        _parse = parse;
        _envPrefix = envPrefix;
        if (configPath is not null)
        {
            _file = LoadFile(configPath);
        }
    }

    public static JsonElement LoadFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw UserFacingException.Usage($"config file {path} must hold one JSON object");
            }
            return document.RootElement.Clone();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw UserFacingException.Usage($"cannot read config file {path}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw UserFacingException.Usage($"config file {path} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>The JSON key of an option: <c>--download-limit</c> → <c>downloadLimit</c>.</summary>
    public static string KeyOf(Option option)
    {
        var parts = option.Name.TrimStart('-').Split('-');
        return parts[0] + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }

    public string? String(Option<string?> option) => Resolve(option, s => s, e => e.GetString());

    public string WithDefault(Option<string> option) => Resolve(option, s => s, e => e.GetString() ?? "");

    public int Int(Option<int> option) => Resolve<int>(option, s => int.TryParse(s, out var v) ? v : throw Bad(option, s), e => e.GetInt32());

    public bool Bool(Option<bool> option) => Resolve<bool>(option, s => s is "1" or "true" or "yes", e => e.GetBoolean());

    public string[] List(Option<string[]> option) =>
        Resolve(option, s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            e => e.ValueKind == JsonValueKind.Array ? [.. e.EnumerateArray().Select(x => x.GetString() ?? "")] : [e.GetString() ?? ""]) ?? [];

    private T Resolve<T>(Option<T> option, Func<string, T> fromEnv, Func<JsonElement, T> fromFile)
    {
        var result = _parse.GetResult(option);
        if (result is not null && !result.Implicit)
        {
            return _parse.GetValue(option)!;
        }
        var envName = _envPrefix + option.Name.TrimStart('-').Replace('-', '_').ToUpperInvariant();
        if (Environment.GetEnvironmentVariable(envName) is { Length: > 0 } env)
        {
            return fromEnv(env);
        }
        if (_file is { } file && file.TryGetProperty(KeyOf(option), out var value))
        {
            try
            {
                return fromFile(value);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw UserFacingException.Usage($"config key '{KeyOf(option)}' has the wrong type: {value}");
            }
        }
        return _parse.GetValue(option)!;
    }

    private static UserFacingException Bad(Option option, string value) =>
        UserFacingException.Usage($"{option.Name} '{value}' is not valid");
}
