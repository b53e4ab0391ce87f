using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Preheat;

// Each blob of a job as a content-addressed URL task: registered a few at a time, registered once
// more with a fresh Authorization when it failed, and a registry's refusal as the API's status.
public sealed partial class PreheatService
{
    private async Task RegisterAllAsync(PreheatJob job, ImageReference image, IReadOnlyList<(PreheatBlob Blob, BlobLocation Location)> work)
    {
        try
        {
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = RegistrationsInFlight, CancellationToken = _stopping },
                async (item, ct) =>
                {
                    var outcome = await RegisterAsync(job, image, item.Blob, item.Location, ct).ConfigureAwait(false);
                    _commands.Writer.TryWrite(new Registered(job.Id, item.Blob.Digest, 1, outcome));
                }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // The broker stops; the job is failed at the next start.
        }
    }

    private async Task RetryAsync(PreheatJob job, ImageReference image, PreheatBlob blob, int attempt)
    {
        UrlTaskOutcome outcome;
        try
        {
            var location = await _resolver.LocateAsync(image, ContentDigest.Parse(blob.Digest), _stopping).ConfigureAwait(false);
            outcome = await RegisterAsync(job, image, blob, location, _stopping).ConfigureAwait(false);
        }
        catch (RegistryException e)
        {
            outcome = UrlTaskOutcome.Failed(UrlTaskErrorKind.FailedPrecondition, e.Message);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            // Anything else must still reach the job, or its blob would stay running for ever.
            outcome = UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, $"the blob could not be located again ({e.GetType().Name}); submit the preheat again");
        }
        _commands.Writer.TryWrite(new Registered(job.Id, blob.Digest, attempt, outcome));
    }

    /// <summary>The blob as a content-addressed URL task on the job's topic: the same path as RegisterUrlTask.</summary>
    private async Task<UrlTaskOutcome> RegisterAsync(PreheatJob job, ImageReference image, PreheatBlob blob, BlobLocation location, CancellationToken ct)
    {
        var request = new RegisterUrlTaskRequest
        {
            Url = location.Url.AbsoluteUri,
            ExpectedDigest = blob.Digest,
            ContentAddressed = true,
            Name = blob.Digest[ContentDigest.Prefix.Length..],
            Topic = job.Topic,
            Requester = "preheat-" + job.Id,
            Labels =
            {
                [ImageBlobLabels.Kind] = ImageBlobLabels.ImageBlob,
                [ImageBlobLabels.Image] = image.ToString(),
                [ImageBlobLabels.Platforms] = string.Join(',', blob.Platforms),
                [ImageBlobLabels.MediaType] = blob.MediaType,
            },
        };
        if (location.Authorization is { } authorization)
        {
            request.Headers.Add(new Header { Name = "Authorization", Value = authorization });
        }
        try
        {
            return await _intake.RegisterAsync(request, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not a registration answer (e.g. the announcement could not be published): the message may hold anything.
            return UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, $"the blob could not be registered ({e.GetType().Name}); submit the preheat again");
        }
    }

    /// <summary>The HTTP status and message of a registry failure while resolving.</summary>
    public static (int Status, string Error) Refusal(ImageReference image, RegistryException e) => e.Kind switch
    {
        RegistryErrorKind.NotFound => (404, e.Message),
        RegistryErrorKind.UnknownPlatform => (400, e.Message),
        RegistryErrorKind.Unauthorized or RegistryErrorKind.Denied => (403,
            $"{e.Message}; give the broker a login for {image.Registry} (config registries, or DFBROKER_REGISTRY_USERNAME/DFBROKER_REGISTRY_PASSWORD)"),
        RegistryErrorKind.Unsupported => (422, e.Message),
        _ => (502, e.Message),
    };
}
