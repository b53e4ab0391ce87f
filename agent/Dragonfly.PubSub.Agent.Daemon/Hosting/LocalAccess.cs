using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// Who on this machine reaches the agent's files (issue 11). The data dir holds the key, the content
/// store and the API socket through which dfpub and dfget make the agent read and write files with its
/// own rights: it is 0700, or 0710 with <c>--socket-group G</c> (members of G may pass through to the
/// socket but not list or read the dir). The socket is 0660, of group G or the agent's own.
/// </summary>
internal static class LocalAccess
{
    private const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The id of <c>--socket-group</c>, or null when none is given.</summary>
    /// <exception cref="UserFacingException">Usage: no such group.</exception>
    public static uint? ResolveGroup(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }
        return UnixGroups.Find(name)
            ?? throw UserFacingException.Usage($"--socket-group '{name}' is not a group on this machine; name an existing group (e.g. dragonfly) or leave it out");
    }

    /// <summary>Makes the data dir 0700 (0710 and of group <paramref name="group"/> when one is given).</summary>
    /// <exception cref="UserFacingException">The dir is not the agent's user's to change.</exception>
    public static void SecureDataDir(string dataDir, uint? group)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        try
        {
            if (group is { } id && UnixGroups.SetGroup(dataDir, id) is not 0 and var errno)
            {
                throw new UserFacingException($"cannot give the data dir {dataDir} to group {id} (--socket-group): errno {errno}; the agent's user must be a member of that group");
            }
            File.SetUnixFileMode(dataDir, group is null ? Owner : Owner | UnixFileMode.GroupExecute);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UserFacingException($"cannot restrict the data dir {dataDir} to the agent's user (mode 0700): {e.Message}; give the agent a data dir of its own");
        }
    }

    /// <summary>Makes the API socket 0660 and, when given, of group <paramref name="group"/>.</summary>
    public static void SecureSocket(string socketPath, uint? group)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        if (group is { } id && UnixGroups.SetGroup(socketPath, id) is not 0 and var errno)
        {
            throw new UserFacingException($"cannot give the API socket {socketPath} to group {id} (--socket-group): errno {errno}; the agent's user must be a member of that group");
        }
        File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
    }
}
