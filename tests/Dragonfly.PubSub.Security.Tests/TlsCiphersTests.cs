using System.Net.Security;

namespace Dragonfly.PubSub.Security.Tests;

public sealed class TlsCiphersTests
{
    [Theory]
    [InlineData(null, new[] { TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384 })]
    [InlineData("default", new[] { TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384 })]
    [InlineData("aes-256-gcm", new[] { TlsCipherSuite.TLS_AES_256_GCM_SHA384 })]
    [InlineData("chacha20-poly1305", new[] { TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256 })]
    [InlineData("chacha20-poly1305, AES-128-GCM,aes-128-gcm", new[] { TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256, TlsCipherSuite.TLS_AES_128_GCM_SHA256 })]
    public void TryParse_Choices_MapToTls13Suites(string? text, TlsCipherSuite[] expected)
    {
        Assert.True(TlsCiphers.TryParse(text, out var ciphers, out var error), error);
        Assert.Equal(expected, ciphers.Suites);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(expected, ciphers.Policy()!.AllowedCipherSuites);
        }
    }

    [Fact]
    public void TryParse_UnknownName_ListsTheChoices()
    {
        Assert.False(TlsCiphers.TryParse("aes-128-cbc", out _, out var error));
        Assert.Equal("unknown TLS cipher 'aes-128-cbc'; choose aes-128-gcm|aes-256-gcm|chacha20-poly1305|default (or a comma-separated list)", error);
    }
}
