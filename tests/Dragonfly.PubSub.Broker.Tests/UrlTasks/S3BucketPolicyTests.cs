using Dragonfly.PubSub.Broker.UrlTasks;

namespace Dragonfly.PubSub.Broker.Tests.UrlTasks;

/// <summary>s3:// URL tasks only of the configured buckets (issue 11, attack 3).</summary>
public sealed class S3BucketPolicyTests
{
    [Theory]
    [InlineData("s3://artifacts/releases/app.bin", null)]
    [InlineData("s3://ARTIFACTS/releases/app.bin", null)]
    [InlineData("s3://payroll/salaries.csv", "s3 bucket 'payroll' is not one this broker fetches from; allow it with --s3-bucket payroll")]
    [InlineData("https://artifacts/releases/app.bin", null)]
    public void Check_AllowsOnlyTheNamedBuckets(string url, string? expected)
    {
        Assert.Equal(expected, new S3BucketPolicy(["artifacts", "images.example"]).Check(new Uri(url)));
    }

    [Fact]
    public void Check_WithoutBuckets_RefusesEveryS3Url()
    {
        Assert.Equal(S3BucketPolicy.Disabled, S3BucketPolicy.None.Check(new Uri("s3://artifacts/x")));
        Assert.Null(S3BucketPolicy.None.Check(new Uri("ftp://127.0.0.1/x")));
    }

    [Theory]
    [InlineData("artifacts", true)]
    [InlineData("my.bucket-1", true)]
    [InlineData("ab", false)]
    [InlineData("Upper", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    public void Validate_AcceptsBucketNames(string bucket, bool valid)
    {
        Assert.Equal(valid, S3BucketPolicy.Validate(bucket) is null);
    }
}
