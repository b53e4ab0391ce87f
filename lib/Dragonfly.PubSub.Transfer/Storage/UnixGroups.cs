using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// Unix group ownership, which .NET does not offer: look a group up by name (through NSS, so LDAP groups
/// work too) and give a file to it. Linux only; failures are errno values, never exceptions.
/// </summary>
public static partial class UnixGroups
{
    /// <summary>The group id of <paramref name="name"/> (or of a number given as such), or null when no such group exists.</summary>
    public static uint? Find(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (uint.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }: the id follows two pointers.
        var entry = getgrnam(name);
        return entry == IntPtr.Zero ? null : (uint)Marshal.ReadInt32(entry, 2 * IntPtr.Size);
    }

    /// <summary>Gives <paramref name="path"/> (not following a final symlink) to group <paramref name="groupId"/>, keeping its owner; 0 or the errno.</summary>
    public static int SetGroup(string path, uint groupId)
    {
        if (!OperatingSystem.IsLinux())
        {
            return 1; // EPERM
        }
        return lchown(path, uint.MaxValue, groupId) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getgrnam(string name);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint owner, uint group);
}
