namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// Which <c>file://</c> URLs RegisterUrlTask accepts. The broker's seed reads them on the broker's
/// host for anyone who can reach the gRPC port, so by default none are; with roots
/// (<c>--file-origin-root</c>) only files whose real path (every <c>..</c> and symbolic link
/// resolved) lies under the real path of a root. Immutable and thread-safe.
/// </summary>
public sealed class FileOriginPolicy
{
    public const string Disabled = "file:// origins are disabled on this broker; allow a directory with --file-origin-root";

    private const int MaxLinks = 40;

    public FileOriginPolicy(IEnumerable<string> roots)
    {
        Roots = [.. roots.Select(r => Path.GetFullPath(r))];
    }

    /// <summary>No file:// origin is allowed.</summary>
    public static FileOriginPolicy None { get; } = new([]);

    /// <summary>The allowed directories as configured (absolute).</summary>
    public IReadOnlyList<string> Roots { get; }

    /// <summary>
    /// Checks a <c>file://</c> URL. On success <paramref name="allowed"/> is the URL of the real path,
    /// which is what the seed must open (the checked file, not whatever a link points to later).
    /// </summary>
    /// <returns>Null when allowed; otherwise one line for the user (it names no path outside the request).</returns>
    public string? Check(Uri url, out Uri allowed)
    {
        allowed = url;
        if (Roots.Count == 0)
        {
            return Disabled;
        }
        if (!(url.Host.Length == 0 || url.IsLoopback))
        {
            return $"only local files are served by file:// (file:///path), not files on host '{url.Host}'";
        }
        string real;
        try
        {
            real = RealPath(url.LocalPath);
        }
        catch (IOException)
        {
            return $"{url.LocalPath} cannot be resolved (a loop of symbolic links?)";
        }
        foreach (var root in Roots)
        {
            string realRoot;
            try
            {
                realRoot = RealPath(root);
            }
            catch (IOException)
            {
                continue;
            }
            if (IsUnder(real, realRoot))
            {
                allowed = new Uri(real);
                return null;
            }
        }
        return $"{url.LocalPath} is not under a directory this broker allows for file:// origins (--file-origin-root)";
    }

    /// <summary>True when <paramref name="path"/> is strictly inside <paramref name="root"/> (both real, absolute).</summary>
    public static bool IsUnder(string path, string root)
    {
        var prefix = root.EndsWith('/') ? root : root + "/";
        return path.StartsWith(prefix, StringComparison.Ordinal) && path.Length > prefix.Length;
    }

    /// <summary>
    /// The real path of an absolute path, like realpath(3): each component is looked at on disk, a
    /// symbolic link is replaced by its target, <c>..</c> goes up from what was resolved so far.
    /// Components that do not exist are kept as they are (they cannot be links).
    /// </summary>
    /// <exception cref="IOException">More than 40 links (a loop).</exception>
    public static string RealPath(string path)
    {
        var pending = new Stack<string>(Components(Path.IsPathRooted(path) ? path : Path.GetFullPath(path)).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }
                continue;
            }
            var candidate = "/" + string.Join('/', resolved.Append(part));
            string? target;
            try
            {
                target = new FileInfo(candidate).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                target = null;
            }
            if (target is null)
            {
                resolved.Add(part);
                continue;
            }
            if (++links > MaxLinks)
            {
                throw new IOException("too many levels of symbolic links");
            }
            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }
            foreach (var component in Components(target).Reverse())
            {
                pending.Push(component);
            }
        }
        return "/" + string.Join('/', resolved);
    }

    private static string[] Components(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
