using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Bench.Swarm.Systems;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class TorrentInfoHashTests
{
    [Fact]
    public void HashesTheInfoValueExactly()
    {
        const string info = "d6:lengthi5e4:name3:a.b12:piece lengthi1048576e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        var torrent = Encoding.ASCII.GetBytes($"d8:announce20:http://x/announce:xx4:info{info}7:comment3:zzze");
        var expected = Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes(info)));
        Assert.Equal(expected, TorrentInfoHash.Hex(torrent));
    }

    [Fact]
    public void SkipsNestedListsAndIntegers()
    {
        var torrent = Encoding.ASCII.GetBytes("d4:listl1:ai-3eli1eee4:infod1:xi0eee");
        Assert.Equal(Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes("d1:xi0ee"))), TorrentInfoHash.Hex(torrent));
    }

    [Theory]
    [InlineData("d8:announce3:abce")]
    [InlineData("l4:infoe")]
    [InlineData("d4:infod1:x")]
    [InlineData("d4:info99:x")]
    public void RejectsWhatIsNotATorrent(string text)
    {
        Assert.Throws<InvalidDataException>(() => TorrentInfoHash.Hex(Encoding.ASCII.GetBytes(text)));
    }
}
