using System.Globalization;

namespace Dragonfly.PubSub.Registry.Setup;

/// <summary>Backup and atomic replace for the runtime set-up files.</summary>
internal static class SetupFiles
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> unless it is already there:
    /// an existing different file is first copied to <c>&lt;path&gt;.bak-&lt;UTC yyyyMMddHHmmss&gt;</c>,
    /// then the new content is written beside it and renamed over it.
    /// </summary>
    public static SetupResult Write(string path, string content, bool dryRun, TimeProvider time)
    {
        var existing = File.Exists(path) ? File.ReadAllText(path) : null;
        var changed = existing != content;
        if (dryRun || !changed)
        {
            return new SetupResult(path, content, changed, null, dryRun);
        }
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        string? backup = null;
        if (existing is not null)
        {
            var stamp = time.GetUtcNow().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            backup = $"{path}.bak-{stamp}";
            for (var n = 1; File.Exists(backup); n++)
            {
                backup = $"{path}.bak-{stamp}-{n}";
            }
            File.Copy(path, backup);
        }
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllText(temp, content);
            if (existing is not null && !OperatingSystem.IsWindows())
            {
                // Keep the original file's permissions (daemon.json may be 0600).
                File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        return new SetupResult(path, content, true, backup, false);
    }
}
