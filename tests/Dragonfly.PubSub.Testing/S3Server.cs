using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real S3-compatible server (s3rver on node, installed by eng/test.sh) on 127.0.0.1 with one
/// bucket. It knows one access key, <see cref="AccessKey"/>, and refuses others; it does not verify
/// SigV4 signatures themselves.
/// </summary>
public sealed partial class S3Server : IDisposable
{
    public const string Bucket = "artifacts";
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly ServerProcess _process;

    private S3Server(string root, ServerProcess process, Uri endpoint)
    {
        Root = root;
        _process = process;
        Endpoint = endpoint;
    }

    public string Root { get; }

    public Uri Endpoint { get; }

    /// <summary>Options of an S3 origin that talks to this server.</summary>
    public S3OriginOptions Options(string accessKey = AccessKey, string secretKey = SecretKey) => new()
    {
        Endpoint = Endpoint,
        ForcePathStyle = true,
        AccessKeyId = accessKey,
        SecretAccessKey = secretKey,
    };

    /// <summary>
    /// The environment that points a process's S3 origin (<c>S3OriginOptions.FromEnvironment</c>)
    /// at this server, or at <paramref name="endpoint"/> (a proxy in front of it).
    /// </summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment(Uri? endpoint = null) => new Dictionary<string, string>
    {
        ["AWS_ENDPOINT_URL"] = (endpoint ?? Endpoint).ToString(),
        ["AWS_ACCESS_KEY_ID"] = AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
        ["AWS_REGION"] = "us-east-1",
    };

    public static async Task<S3Server> StartAsync()
    {
        if (!File.Exists(TestPaths.S3rverScript))
        {
            throw new FileNotFoundException(
                $"s3rver is not installed at {TestPaths.S3rverScript}; run eng/test.sh, or: npm install --prefix .tools/s3rver s3rver@3.7.1");
        }
        var root = Directory.CreateTempSubdirectory("dragonfly-s3-").FullName;
        var process = ServerProcess.Start("s3rver", TestPaths.Node,
            [TestPaths.S3rverScript, "-d", root, "-a", "127.0.0.1", "-p", "0", "--silent", "--no-vhost-buckets", "--configure-bucket", Bucket], root);
        try
        {
            var ready = await process.WaitForLineAsync(line => line.Contains("S3rver listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
            var port = int.Parse(ListeningPort().Match(ready).Groups[1].Value);
            return new S3Server(root, process, new Uri($"http://127.0.0.1:{port}"));
        }
        catch
        {
            process.Dispose();
            TempDirectory.Delete(root);
            throw;
        }
    }

    /// <summary>Uploads <paramref name="size"/> deterministic bytes as <paramref name="key"/> and returns them.</summary>
    public async Task<byte[]> PutAsync(string key, int size, int seed)
    {
        var bytes = SeededBytes.Create(size, seed);
        await UploadAsync(key, new MemoryStream(bytes));
        return bytes;
    }

    /// <summary>Uploads the file at <paramref name="path"/> as <paramref name="key"/>.</summary>
    public async Task PutFileAsync(string key, string path)
    {
        await using var file = File.OpenRead(path);
        await UploadAsync(key, file);
    }

    private async Task UploadAsync(string key, Stream content)
    {
        using var client = new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
        {
            ServiceURL = Endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket,
            Key = key,
            InputStream = content,
            AutoCloseStream = false,
            UseChunkEncoding = false, // s3rver stores aws-chunked bodies verbatim
        });
    }

    public void Dispose()
    {
        try
        {
            _process.Dispose();
        }
        finally
        {
            TempDirectory.Delete(Root);
        }
    }

    [GeneratedRegex(@"listening on [^:]+:(\d+)")]
    private static partial Regex ListeningPort();
}
