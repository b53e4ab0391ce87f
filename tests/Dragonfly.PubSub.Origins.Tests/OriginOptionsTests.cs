using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Origins.Tests;

public sealed class OriginOptionsTests
{
    [Theory]
    [InlineData("Authorization: Bearer abc", "Authorization", "Bearer abc")]
    [InlineData("X-Token:secret", "X-Token", "secret")]
    [InlineData("  Accept : */*  ", "Accept", "*/*")]
    [InlineData("X-Empty:", "X-Empty", "")]
    [InlineData("X-Url: http://a:b@c/", "X-Url", "http://a:b@c/")]
    public void ParseHeader_TakesNameColonValue(string text, string name, string value)
    {
        Assert.Equal(new KeyValuePair<string, string>(name, value), OriginRequestOptions.ParseHeader(text));
    }

    [Theory]
    [InlineData("no colon here")]
    [InlineData(": value")]
    [InlineData("Bad Name: value")]
    [InlineData("X-Evil: a\r\nInjected: b")]
    public void ParseHeader_RejectsMalformedHeaders(string text)
    {
        Assert.Throws<FormatException>(() => OriginRequestOptions.ParseHeader(text));
    }

    [Fact]
    public void Errors_AndToString_NeverShowHeaderValues()
    {
        var error = Assert.Throws<FormatException>(() => OriginRequestOptions.ParseHeader("Bad Name: sup3rsecret"));
        var options = OriginRequestOptions.Default.WithHeaders(["Authorization: Bearer sup3rsecret"]);

        Assert.DoesNotContain("sup3rsecret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sup3rsecret", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("Authorization", options.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://user:pa55@origin.example/a.tar?X-Amz-Signature=abc&v=1#frag", "https://***@origin.example/a.tar?X-Amz-Signature=***&v=1")]
    [InlineData("https://origin.example/a.tar?sig=abc&token=t&Expires=9", "https://origin.example/a.tar?sig=***&token=***&Expires=***")]
    [InlineData("ftp://anon@ftp.example:2121/pub/x", "ftp://***@ftp.example:2121/pub/x")]
    [InlineData("s3://bucket/key", "s3://bucket/key")]
    public void Redact_RemovesCredentialsAndSignatures(string url, string redacted)
    {
        Assert.Equal(redacted, OriginUrl.Redact(new Uri(url)));
    }

    [Fact]
    public void Parse_AcceptsUrlsAndRootedPaths_AndNeverEchoesSecretsWhenItFails()
    {
        Assert.Equal("https", OriginUrl.Parse(" https://origin.example/a ").Scheme);
        Assert.Equal("file", OriginUrl.Parse("/var/data/a.bin").Scheme);

        var error = Assert.Throws<FormatException>(() => OriginUrl.Parse("relative/path?Signature=topsecret"));
        Assert.DoesNotContain("topsecret", error.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => OriginUrl.Parse("not a url"));
    }

    [Fact]
    public void S3Options_FromEnvironment_ReadTheAwsVariables()
    {
        var environment = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE",
            ["AWS_SECRET_ACCESS_KEY"] = "very-secret",
            ["AWS_SESSION_TOKEN"] = "session",
            ["AWS_DEFAULT_REGION"] = "eu-central-1",
            ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000",
        };

        var options = S3OriginOptions.FromEnvironment(environment.GetValueOrDefault);

        Assert.Equal(new Uri("http://127.0.0.1:9000"), options.Endpoint);
        Assert.True(options.ForcePathStyle);
        Assert.Equal("eu-central-1", options.Region);
        Assert.Equal(("AKIAEXAMPLE", "very-secret", "session"), (options.AccessKeyId, options.SecretAccessKey, options.SessionToken));
        Assert.DoesNotContain("very-secret", options.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("session", options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void S3Options_DragonflyVariables_TakePrecedence_AndBadValuesAreRejected()
    {
        var environment = new Dictionary<string, string>
        {
            ["DRAGONFLY_S3_ENDPOINT"] = "https://minio.internal:9000",
            ["AWS_ENDPOINT_URL"] = "http://ignored:1",
            ["DRAGONFLY_S3_PATH_STYLE"] = "false",
            ["AWS_REGION"] = "us-west-2",
            ["AWS_DEFAULT_REGION"] = "ignored",
        };

        var options = S3OriginOptions.FromEnvironment(environment.GetValueOrDefault);
        var none = S3OriginOptions.FromEnvironment(_ => null);

        Assert.Equal(new Uri("https://minio.internal:9000"), options.Endpoint);
        Assert.False(options.ForcePathStyle);
        Assert.Equal("us-west-2", options.Region);
        Assert.Null(none.Endpoint);
        Assert.Null(none.AccessKeyId);
        Assert.Equal("us-east-1", none.Region);
        Assert.Throws<FormatException>(() => S3OriginOptions.FromEnvironment(n => n == "AWS_ENDPOINT_URL" ? "not a url" : null));
    }
}
