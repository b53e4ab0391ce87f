using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dragonfly.PubSub.Registry.Setup;

/// <summary>
/// <c>dfagent init docker</c>: adds the mirror to <c>registry-mirrors</c> in
/// <c>&lt;root&gt;/etc/docker/daemon.json</c>, first in the list, keeping every other key and
/// mirror. Docker uses registry-mirrors for Docker Hub pulls only; loopback mirrors may be plain HTTP.
/// Docker reads the file when dockerd starts (or on SIGHUP for some keys): restart it after.
/// </summary>
public sealed class DockerDaemonConfigWriter(TimeProvider? time = null)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, IndentSize = 2 };

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public static string PathFor(string root) => Path.Combine(root, "etc", "docker", "daemon.json");

    /// <summary>The merged daemon.json for <paramref name="existing"/> (null: no file yet).</summary>
    /// <exception cref="FormatException">The existing file is not a JSON object.</exception>
    public string Render(string? existing, Uri? mirror = null)
    {
        var mirrorUrl = ContainerdHostsWriter.MirrorUrl(mirror ?? ContainerdHostsWriter.DefaultMirror);
        JsonObject config;
        try
        {
            config = string.IsNullOrWhiteSpace(existing)
                ? new JsonObject()
                : JsonNode.Parse(existing, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                  ?? throw new FormatException("daemon.json is not a JSON object; fix or move it, then run again");
        }
        catch (JsonException e)
        {
            throw new FormatException($"daemon.json is not valid JSON ({e.Message}); fix or move it, then run again", e);
        }
        // JsonNode items, not strings: JsonArray.Add<T> needs reflection (dfagent is Native AOT).
        var mirrors = new JsonArray((JsonNode)JsonValue.Create(mirrorUrl));
        if (config["registry-mirrors"] is JsonArray old)
        {
            if (old.Count > 0 && old[0]?.GetValueKind() == JsonValueKind.String && SameUrl(old[0]!.GetValue<string>(), mirrorUrl))
            {
                return existing!; // already set up: leave the file as its owner formatted it
            }
            foreach (var item in old)
            {
                var text = item?.GetValueKind() == JsonValueKind.String ? item.GetValue<string>() : null;
                if (text is not null && !SameUrl(text, mirrorUrl))
                {
                    mirrors.Add((JsonNode)JsonValue.Create(text));
                }
            }
        }
        else if (config["registry-mirrors"] is not null)
        {
            throw new FormatException("daemon.json's registry-mirrors is not a list; fix it, then run again");
        }
        config["registry-mirrors"] = mirrors;
        return config.ToJsonString(Indented) + "\n";
    }

    /// <summary>Writes (or with <paramref name="dryRun"/> only renders) the merged file under <paramref name="root"/> (normally <c>/</c>).</summary>
    public SetupResult Write(string root = "/", Uri? mirror = null, bool dryRun = false)
    {
        var path = PathFor(root);
        var existing = File.Exists(path) ? File.ReadAllText(path) : null;
        return SetupFiles.Write(path, Render(existing, mirror), dryRun, _time);
    }

    private static bool SameUrl(string a, string b) =>
        string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
