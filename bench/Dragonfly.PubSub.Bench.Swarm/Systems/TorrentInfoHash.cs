using System.Security.Cryptography;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// The info hash of a .torrent: SHA-1 of the bencoded value of the top-level "info" key, byte for
/// byte as the file holds it. opentracker (a whitelist build in Debian) serves only listed hashes.
/// </summary>
internal static class TorrentInfoHash
{
    public static string Hex(ReadOnlySpan<byte> torrent)
    {
        if (torrent.Length == 0 || torrent[0] != (byte)'d')
        {
            throw new InvalidDataException("a .torrent is a bencoded dictionary");
        }
        var at = 1;
        while (at < torrent.Length && torrent[at] != (byte)'e')
        {
            var keyStart = at;
            at = Skip(torrent, at);
            var key = torrent[keyStart..at];
            var valueStart = at;
            at = Skip(torrent, at);
            if (key.SequenceEqual("4:info"u8))
            {
                return Convert.ToHexStringLower(SHA1.HashData(torrent[valueStart..at]));
            }
        }
        throw new InvalidDataException("the .torrent has no info dictionary");
    }

    /// <summary>The index just after the bencoded value that starts at <paramref name="at"/>.</summary>
    internal static int Skip(ReadOnlySpan<byte> data, int at)
    {
        if (at >= data.Length)
        {
            throw new InvalidDataException("bencoding ends early");
        }
        switch (data[at])
        {
            case (byte)'i':
                return IndexAfter(data, at, (byte)'e');
            case (byte)'l':
            case (byte)'d':
                at++;
                while (at < data.Length && data[at] != (byte)'e')
                {
                    at = Skip(data, at);
                }
                if (at >= data.Length)
                {
                    throw new InvalidDataException("bencoded list or dictionary without its end");
                }
                return at + 1;
            case >= (byte)'0' and <= (byte)'9':
                var colon = IndexAfter(data, at, (byte)':') - 1;
                var length = int.Parse(data[at..colon], System.Globalization.CultureInfo.InvariantCulture);
                if (length < 0 || colon + 1 + length > data.Length)
                {
                    throw new InvalidDataException("bencoded string runs past the end");
                }
                return colon + 1 + length;
            default:
                throw new InvalidDataException($"unexpected byte '{(char)data[at]}' in bencoding at {at}");
        }
    }

    private static int IndexAfter(ReadOnlySpan<byte> data, int at, byte end)
    {
        var found = data[at..].IndexOf(end);
        return found < 0 ? throw new InvalidDataException("bencoding ends early") : at + found + 1;
    }
}
