using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Dragonfly.PubSub.Origins.Streams;

namespace Dragonfly.PubSub.Origins.S3;

/// <summary>
/// <c>s3://bucket/key</c> origins (AWS or S3-compatible): HEAD for stat, ranged GetObject for reads.
/// <c>?versionId=</c> selects an object version. The SDK's own retries are off: <see cref="OriginClient"/>
/// retries, so one policy governs every origin.
/// </summary>
public sealed class S3Origin : IOrigin, IDisposable
{
    private readonly AmazonS3Client _client;

    public S3Origin(S3OriginOptions? options = null)
    {
        options ??= S3OriginOptions.FromEnvironment();
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            MaxErrorRetry = 0,
            Timeout = Timeout.InfiniteTimeSpan, // per-attempt timeouts come from OriginRequestOptions
            // Checksums only where S3 requires them: S3-compatible servers often lack the newer ones.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }
        AWSCredentials credentials = options switch
        {
            { AccessKeyId: { } id, SecretAccessKey: { } secret, SessionToken: { } token } => new SessionAWSCredentials(id, secret, token),
            { AccessKeyId: { } id, SecretAccessKey: { } secret } => new BasicAWSCredentials(id, secret),
            _ => new AnonymousAWSCredentials(),
        };
        _client = new AmazonS3Client(credentials, config);
    }

    public IReadOnlyCollection<string> Schemes { get; } = ["s3"];

    public async Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var (bucket, key, version) = Parse(url);
        var request = new GetObjectMetadataRequest { BucketName = bucket, Key = key, VersionId = version };
        var response = await CallAsync(url, options, ct => _client.GetObjectMetadataAsync(request, ct), cancellationToken).ConfigureAwait(false);
        return new OriginObject
        {
            Url = url,
            Size = response.ContentLength,
            SupportsRanges = true,
            ETag = response.ETag,
            LastModified = response.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero) : null,
            ContentType = response.Headers.ContentType,
        };
    }

    public async Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l);
            if (l == 0)
            {
                return Stream.Null;
            }
        }
        var (bucket, key, version) = Parse(url);
        var request = new GetObjectRequest { BucketName = bucket, Key = key, VersionId = version };
        if (offset > 0 || length is not null)
        {
            request.ByteRange = length is { } n ? new ByteRange(offset, offset + n - 1) : new ByteRange($"bytes={offset}-");
        }
        var response = await CallAsync(url, options, ct => _client.GetObjectAsync(request, ct), cancellationToken).ConfigureAwait(false);
        return new RangeWindowStream(response.ResponseStream, 0, length, _ => new IOException("S3 response ended early"), response);
    }

    public void Dispose() => _client.Dispose();

    private static async Task<T> CallAsync<T>(Uri url, OriginRequestOptions options, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var redacted = OriginUrl.Redact(url);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ResponseTimeout);
        try
        {
            return await call(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OriginException(OriginErrorKind.Timeout, $"origin did not answer within {options.ResponseTimeout.TotalSeconds:0.#} s: {redacted}", redacted);
        }
        catch (AmazonS3Exception e)
        {
            var code = (int)e.StatusCode;
            var status = string.IsNullOrEmpty(e.ErrorCode) ? $"S3 {code}" : $"S3 {code} {e.ErrorCode}";
            throw code switch
            {
                404 => OriginException.NotFound(url, code),
                401 or 403 => new OriginException(OriginErrorKind.AccessDenied,
                    $"access denied by origin ({status}): {redacted}; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the endpoint", redacted, code, e),
                416 => new OriginException(OriginErrorKind.RangeNotSatisfiable, $"range is beyond the end of the object at origin: {redacted}", redacted, code, e),
                408 or 429 or >= 500 and not 501 or 0 => new OriginException(OriginErrorKind.Unavailable, $"origin unavailable ({status}): {redacted}", redacted, code == 0 ? null : code, e),
                _ => new OriginException(OriginErrorKind.Rejected, $"origin refused the request ({status}): {redacted}", redacted, code, e),
            };
        }
        catch (AmazonServiceException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw OriginException.NotFound(url, 404);
        }
        catch (Exception e) when (e is AmazonClientException or AmazonServiceException or HttpRequestException or IOException)
        {
            throw new OriginException(OriginErrorKind.Unavailable, $"cannot reach origin ({e.GetType().Name}): {redacted}", redacted, inner: e);
        }
    }

    private static (string Bucket, string Key, string? Version) Parse(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var bucket = url.Host;
        var key = Uri.UnescapeDataString(url.AbsolutePath.StartsWith('/') ? url.AbsolutePath[1..] : url.AbsolutePath);
        if (bucket.Length == 0 || key.Length == 0)
        {
            throw new OriginException(OriginErrorKind.InvalidUrl, $"expected s3://bucket/key, got {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        string? version = null;
        if (url.Query.Length > 1)
        {
            foreach (var part in url.Query[1..].Split('&'))
            {
                if (part.StartsWith("versionId=", StringComparison.Ordinal))
                {
                    version = Uri.UnescapeDataString(part["versionId=".Length..]);
                }
            }
        }
        return (bucket, key, version);
    }
}
