using System.Collections.Concurrent;
using Dragonfly.PubSub.Origins.Files;
using Dragonfly.PubSub.Origins.Ftp;
using Dragonfly.PubSub.Origins.Http;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Origins;

/// <summary>
/// URL scheme → <see cref="IOrigin"/>. <see cref="CreateDefault"/> registers http, https, ftp, s3
/// and file; <see cref="Register"/> adds more or replaces one. The registry owns its origins and
/// disposes them.
/// </summary>
public sealed class OriginRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, IOrigin> _origins = new(StringComparer.OrdinalIgnoreCase);

    public static OriginRegistry CreateDefault(OriginRegistryOptions? options = null)
    {
        options ??= new OriginRegistryOptions();
        var registry = new OriginRegistry();
        registry.Register(new HttpOrigin(options.Http with { Egress = options.Egress }));
        registry.Register(new FtpOrigin(options.Ftp with { Egress = options.Egress }));
        registry.Register(new S3Origin(options.S3 ?? S3OriginOptions.FromEnvironment()));
        registry.Register(new FileOrigin());
        return registry;
    }

    /// <summary>The registered schemes, sorted.</summary>
    public IReadOnlyList<string> Schemes => [.. _origins.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Registers <paramref name="origin"/> for each of its schemes, replacing what was there.</summary>
    public void Register(IOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(origin);
        if (origin.Schemes.Count == 0)
        {
            throw new ArgumentException("an origin must serve at least one scheme", nameof(origin));
        }
        foreach (var scheme in origin.Schemes)
        {
            _origins[scheme] = origin;
        }
    }

    public bool TryResolve(Uri url, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IOrigin? origin)
    {
        ArgumentNullException.ThrowIfNull(url);
        origin = null;
        return url.IsAbsoluteUri && _origins.TryGetValue(url.Scheme, out origin);
    }

    /// <summary>The origin for <paramref name="url"/>'s scheme.</summary>
    /// <exception cref="OriginException">Kind <see cref="OriginErrorKind.InvalidUrl"/>: no origin for the scheme.</exception>
    public IOrigin Resolve(Uri url)
    {
        if (TryResolve(url, out var origin))
        {
            return origin;
        }
        var scheme = url.IsAbsoluteUri ? url.Scheme : "(none)";
        throw new OriginException(OriginErrorKind.InvalidUrl,
            $"unsupported URL scheme '{scheme}' in {OriginUrl.Redact(url)}; supported: {string.Join(", ", Schemes)}", OriginUrl.Redact(url));
    }

    public void Dispose()
    {
        foreach (var origin in _origins.Values.Distinct())
        {
            (origin as IDisposable)?.Dispose();
        }
        _origins.Clear();
    }
}
