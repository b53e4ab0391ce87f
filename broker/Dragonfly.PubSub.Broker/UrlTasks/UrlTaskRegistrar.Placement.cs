using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;

namespace Dragonfly.PubSub.Broker.UrlTasks;

// Several brokers (issue 12): an agent that knows several brokers places each task on one of them by its
// id, which for a URL task depends on the object's size (its piece size). It first asks any broker for the id
// (a placement probe: one stat, nothing registered), then registers at the broker the id hashes to.
public sealed partial class UrlTaskRegistrar
{
    private async Task<UrlTaskOutcome> ProbeAsync(CheckedRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentAddressed)
        {
            return UrlTaskOutcome.Ok(new Manifest { Digest = request.ExpectedDigest!, UrlTask = true, Name = request.Name, Topic = request.Topic });
        }
        OriginObject stat;
        try
        {
            stat = await _origins.StatAsync(request.Url, request.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            BrokerLog.UrlTaskRejected(_logger, request.RedactedUrl, e.Message);
            return UrlTaskOutcome.Failed(Map(e.Kind), e.Message) with { Cause = e.Kind.ToTaskErrorKind() };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            BrokerLog.StatCrashed(_logger, request.RedactedUrl, e.GetType().Name);
            return UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, $"could not reach {request.RedactedUrl} ({e.GetType().Name}); try again");
        }
        if (stat.Size is not { } size)
        {
            return Reject(request, UrlTaskErrorKind.FailedPrecondition,
                $"{request.RedactedUrl} does not tell its size; a URL task needs it to cut the object into pieces");
        }
        var layout = PieceLayout.For(size, request.RequestedPieceSize > 0 ? request.RequestedPieceSize : null);
        if (!layout.IsSupported)
        {
            return Reject(request, UrlTaskErrorKind.InvalidArgument,
                $"{request.RedactedUrl} is {ByteSize.Format(size)}: too many pieces of {ByteSize.Format(layout.PieceSize)}; use a larger piece size");
        }
        var taskId = UrlTaskId.Compute(request.Url, layout.PieceSize, request.Tag, request.FilterParams).ToString();
        return UrlTaskOutcome.Ok(new Manifest
        {
            Digest = taskId,
            UrlTask = true,
            Size = size,
            PieceSize = layout.PieceSize,
            Name = request.Name,
            Topic = request.Topic,
        });
    }
}
