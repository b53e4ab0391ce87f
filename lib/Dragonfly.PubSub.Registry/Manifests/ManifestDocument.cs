using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Platforms;

namespace Dragonfly.PubSub.Registry.Manifests;

/// <summary>
/// The parts of a manifest or index that resolving needs: for an index its child manifests
/// (with platforms), for an image manifest its config and layers.
/// </summary>
public sealed class ManifestDocument
{
    private ManifestDocument(string mediaType, IReadOnlyList<Descriptor> manifests, Descriptor? config, IReadOnlyList<Descriptor> layers)
    {
        MediaType = mediaType;
        Manifests = manifests;
        Config = config;
        Layers = layers;
    }

    public string MediaType { get; }

    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>An index's child manifests; empty for an image manifest.</summary>
    public IReadOnlyList<Descriptor> Manifests { get; }

    /// <summary>An image manifest's config blob; null for an index.</summary>
    public Descriptor? Config { get; }

    /// <summary>An image manifest's layers; empty for an index.</summary>
    public IReadOnlyList<Descriptor> Layers { get; }

    /// <summary>
    /// Parses manifest JSON. The media type is the body's <c>mediaType</c> field, else
    /// <paramref name="contentType"/>, else inferred from the shape (OCI allows the field to be absent).
    /// </summary>
    /// <exception cref="FormatException">The bytes are not a manifest this client understands.</exception>
    public static ManifestDocument Parse(ReadOnlySpan<byte> json, string? contentType)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("the manifest is not a JSON object");
            }
            if (root.TryGetProperty("schemaVersion", out var schema) && schema.ValueKind == JsonValueKind.Number && schema.GetInt32() == 1)
            {
                throw new FormatException("Docker schema 1 manifests are not supported (push the image again with a current client)");
            }
            var mediaType = root.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString()! : null;
            mediaType ??= contentType is not null && (MediaTypes.IsIndex(contentType) || MediaTypes.IsImageManifest(contentType)) ? contentType : null;
            mediaType ??= root.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex
                : root.TryGetProperty("config", out _) ? MediaTypes.OciManifest
                : throw new FormatException("the document is neither an image index nor an image manifest");

            if (MediaTypes.IsIndex(mediaType))
            {
                var manifests = root.TryGetProperty("manifests", out var m) && m.ValueKind == JsonValueKind.Array
                    ? m.EnumerateArray().Select(ReadDescriptor).ToArray()
                    : throw new FormatException("the index has no manifests array");
                return new ManifestDocument(mediaType, manifests, null, []);
            }
            if (MediaTypes.IsImageManifest(mediaType))
            {
                var config = root.TryGetProperty("config", out var c) ? ReadDescriptor(c) : throw new FormatException("the manifest has no config");
                var layers = root.TryGetProperty("layers", out var l) && l.ValueKind == JsonValueKind.Array
                    ? l.EnumerateArray().Select(ReadDescriptor).ToArray()
                    : [];
                return new ManifestDocument(mediaType, [], config, layers);
            }
            throw new FormatException($"media type '{mediaType}' is not an image index or manifest");
        }
        catch (JsonException e)
        {
            throw new FormatException($"the manifest is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"the manifest has a field of the wrong type: {e.Message}", e);
        }
    }

    /// <summary>The platform an image config JSON declares (<c>os</c>, <c>architecture</c>, <c>variant</c>).</summary>
    public static Platform ParseConfigPlatform(ReadOnlySpan<byte> configJson)
    {
        try
        {
            using var document = JsonDocument.Parse(configJson.ToArray());
            var root = document.RootElement;
            var os = root.TryGetProperty("os", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
            var arch = root.TryGetProperty("architecture", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            var variant = root.TryGetProperty("variant", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return string.IsNullOrEmpty(os) || string.IsNullOrEmpty(arch)
                ? throw new FormatException("the image config has no os/architecture")
                : new Platform(os, arch, variant);
        }
        catch (JsonException e)
        {
            throw new FormatException($"the image config is not valid JSON: {e.Message}", e);
        }
    }

    private static Descriptor ReadDescriptor(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a descriptor is not a JSON object");
        }
        var mediaType = element.TryGetProperty("mediaType", out var mt) ? mt.GetString() ?? "" : "";
        var digestText = element.TryGetProperty("digest", out var d) ? d.GetString() : null;
        if (!ContentDigest.TryParse(digestText, out var digest))
        {
            throw new FormatException($"descriptor digest '{digestText}' is not supported (only sha256:<64 lowercase hex>)");
        }
        var size = element.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : -1;
        if (size < 0)
        {
            throw new FormatException($"descriptor {digestText} has no valid size");
        }
        Platform? platform = null;
        if (element.TryGetProperty("platform", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            var os = p.TryGetProperty("os", out var o) ? o.GetString() : null;
            var arch = p.TryGetProperty("architecture", out var a) ? a.GetString() : null;
            var variant = p.TryGetProperty("variant", out var v) ? v.GetString() : null;
            if (!string.IsNullOrEmpty(os) && !string.IsNullOrEmpty(arch))
            {
                platform = new Platform(os, arch, variant);
            }
        }
        return new Descriptor(mediaType, digest.Value, size, platform);
    }
}
