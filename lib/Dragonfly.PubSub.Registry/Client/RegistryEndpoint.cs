namespace Dragonfly.PubSub.Registry.Client;

/// <summary>
/// A registry as references name it (<see cref="Name"/>: <c>docker.io</c>, <c>127.0.0.1:5000</c>)
/// and where its API lives (<see cref="BaseUri"/>: <c>https://registry-1.docker.io/</c>).
/// </summary>
public sealed record RegistryEndpoint
{
    public RegistryEndpoint(string name, Uri baseUri)
    {
        if (!baseUri.IsAbsoluteUri || (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"a registry URL must be absolute http or https, not '{baseUri}'", nameof(baseUri));
        }
        if (!string.IsNullOrEmpty(baseUri.UserInfo) || !string.IsNullOrEmpty(baseUri.Query))
        {
            throw new ArgumentException("a registry URL carries no user info or query; pass credentials separately", nameof(baseUri));
        }
        Name = name;
        BaseUri = baseUri.AbsolutePath.EndsWith('/') ? baseUri : new Uri(baseUri.AbsoluteUri + "/");
    }

    public string Name { get; }

    public Uri BaseUri { get; }

    /// <summary>
    /// The endpoint of a mirror's upstream URL (<c>--registry-mirror</c>): named after its host and
    /// port, with Docker Hub's API hosts named <c>docker.io</c>.
    /// </summary>
    public static RegistryEndpoint FromUrl(Uri url)
    {
        // Authority carries the port only when it is not the scheme's default.
        var name = url.IdnHost is "registry-1.docker.io" or "index.docker.io" ? "docker.io" : url.Authority;
        return new RegistryEndpoint(name, url);
    }

    public Uri Url(string relative) => new(BaseUri, relative);

    public override string ToString() => $"{Name} ({BaseUri.GetLeftPart(UriPartial.Path)})";
}
