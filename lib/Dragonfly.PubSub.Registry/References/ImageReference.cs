using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.References;

/// <summary>
/// An image reference <c>[registry[:port]/]repository[:tag][@sha256:&lt;hex&gt;]</c>, normalized with
/// Docker's rules: no registry means <c>docker.io</c> (<c>index.docker.io</c> is the same), a
/// one-component repository on Docker Hub gets <c>library/</c>, and a first component is a registry
/// only when it has a dot, a colon or is <c>localhost</c> (or has upper case). Neither tag nor
/// digest means <c>latest</c>; with both, the digest decides what is pulled.
/// </summary>
public sealed partial record ImageReference
{
    public const string DockerHub = "docker.io";
    public const string DefaultTag = "latest";

    private const string Expected = "expected [registry[:port]/]repository[:tag][@sha256:<64 hex>]";
    private const int MaxNameLength = 255;

    private ImageReference(string registry, string repository, string? tag, ContentDigest? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The registry host as users write it, with the port if any: <c>docker.io</c>, <c>127.0.0.1:5000</c>.</summary>
    public string Registry { get; }

    /// <summary>The repository path inside the registry: <c>library/ubuntu</c>.</summary>
    public string Repository { get; }

    public string? Tag { get; }

    public ContentDigest? Digest { get; }

    /// <summary>What the manifests endpoint is asked for: the digest when there is one, else the tag.</summary>
    public string Reference => Digest?.ToString() ?? Tag ?? DefaultTag;

    /// <summary>The same repository at another tag or digest.</summary>
    public ImageReference At(ContentDigest digest) => new(Registry, Repository, Tag, digest);

    public static ImageReference Parse(string text) =>
        TryParse(text, out var reference, out var error) ? reference : throw new FormatException(error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        error = Validate(text, out var registry, out var repository, out var tag, out var digest);
        if (error is not null)
        {
            error = $"'{text}' is not a valid image reference: {error} ({Expected})";
            return false;
        }
        reference = new ImageReference(registry!, repository!, tag, digest);
        return true;
    }

    /// <summary>A registry host as it appears in references and containerd's <c>certs.d</c>: <c>host[:port]</c>.</summary>
    public static bool IsValidRegistry(string? registry) => registry is not null && RegistryPattern().IsMatch(registry);

    /// <summary>A repository path: lower-case components separated by <c>/</c>.</summary>
    public static bool IsValidRepository(string? repository) =>
        repository is not null && repository.Length <= MaxNameLength && RepositoryPattern().IsMatch(repository);

    public static bool IsValidTag(string? tag) => tag is not null && TagPattern().IsMatch(tag);

    public override string ToString()
    {
        var text = Registry + "/" + Repository;
        if (Tag is not null)
        {
            text += ":" + Tag;
        }
        if (Digest is { } digest)
        {
            text += "@" + digest;
        }
        return text;
    }

    private static string? Validate(string? text, out string? registry, out string? repository, out string? tag, out ContentDigest? digest)
    {
        registry = repository = tag = null;
        digest = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return "it is empty";
        }
        if (text.Any(char.IsWhiteSpace))
        {
            return "it contains white space";
        }

        var name = text;
        var at = text.IndexOf('@');
        if (at >= 0)
        {
            var digestText = text[(at + 1)..];
            name = text[..at];
            if (!digestText.StartsWith(ContentDigest.Prefix, StringComparison.Ordinal))
            {
                return $"digest '{digestText}' is not supported: only sha256 digests are";
            }
            if (!ContentDigest.TryParse(digestText, out digest))
            {
                return $"digest '{digestText}' is not sha256: followed by 64 lowercase hex digits";
            }
        }

        var lastSlash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!IsValidTag(tag))
            {
                return $"tag '{tag}' is invalid (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')";
            }
        }
        if (name.Length == 0)
        {
            return "the repository name is missing";
        }

        var slash = name.IndexOf('/');
        var first = slash < 0 ? name : name[..slash];
        var hasRegistry = slash >= 0 && (first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsAsciiLetterUpper));
        if (hasRegistry)
        {
            registry = first;
            repository = name[(slash + 1)..];
            if (!IsValidRegistry(registry))
            {
                return $"registry '{registry}' is not a host name or IP address with an optional port";
            }
            if (registry == "index.docker.io")
            {
                registry = DockerHub;
            }
        }
        else
        {
            registry = DockerHub;
            repository = name;
        }
        if (registry == DockerHub && !repository.Contains('/'))
        {
            repository = "library/" + repository;
        }
        if (repository.Any(char.IsAsciiLetterUpper))
        {
            return $"repository '{repository}' must be lowercase";
        }
        if (registry.Length + 1 + repository.Length > MaxNameLength)
        {
            return $"the name is longer than {MaxNameLength} characters";
        }
        if (!IsValidRepository(repository))
        {
            return $"repository '{repository}' is invalid (lowercase letters and digits, separated by '.', '_', '__', '-' or '/')";
        }
        if (tag is null && digest is null)
        {
            tag = DefaultTag;
        }
        return null;
    }

    // Docker's reference grammar (distribution/reference/regexp.go), plus bracketed IPv6 hosts.
    [GeneratedRegex(@"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$")]
    private static partial Regex RegistryPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();
}
