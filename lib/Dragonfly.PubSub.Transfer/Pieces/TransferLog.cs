using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>Log messages of the transfer engines (event ids 4000-4099).</summary>
internal static partial class TransferLog
{
    [LoggerMessage(4000, LogLevel.Information, "Serving pieces on {Endpoint}")]
    public static partial void ServerListening(ILogger logger, string endpoint);

    [LoggerMessage(4001, LogLevel.Debug, "Peer connection from {Remote} ended: {Reason}")]
    public static partial void ServerConnectionEnded(ILogger logger, string? remote, string reason);

    [LoggerMessage(4002, LogLevel.Warning, "Accepting peer connections failed")]
    public static partial void ServerAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(4003, LogLevel.Error, "Serving a peer connection failed")]
    public static partial void ServerConnectionFailed(ILogger logger, Exception exception);

    [LoggerMessage(4010, LogLevel.Debug, "Fetch of {Length} bytes at {Offset} from {Endpoint} failed: {Status} {Detail}")]
    public static partial void FetchFailed(ILogger logger, string endpoint, long offset, int length, string status, string? detail);

    [LoggerMessage(4020, LogLevel.Information, "Download of {Digest} started: {Done}/{Total} pieces already here")]
    public static partial void DownloadStarted(ILogger logger, ContentDigest digest, int done, int total);

    [LoggerMessage(4029, LogLevel.Information, "Download of {Digest}: {How}")]
    public static partial void ProofChosen(ILogger logger, ContentDigest digest, string how);

    [LoggerMessage(4035, LogLevel.Warning, "Download of {Digest}: piece {Index} matches its digest but not the manifest's SHA-256 chain; the chain is dropped and the whole file will be hashed")]
    public static partial void ChainAbandoned(ILogger logger, ContentDigest digest, int index);

    [LoggerMessage(4021, LogLevel.Information, "Download of {Digest} finished: {Size} bytes, {FromPeers} from peers, {FromSource} from the source, in {Seconds:0.00} s")]
    public static partial void DownloadFinished(ILogger logger, ContentDigest digest, long size, long fromPeers, long fromSource, double seconds);

    [LoggerMessage(4022, LogLevel.Warning, "Download of {Digest} failed: {Error}")]
    public static partial void DownloadFailed(ILogger logger, ContentDigest digest, string error);

    [LoggerMessage(4023, LogLevel.Debug, "Piece {Index} of {Digest} from {Parent} failed: {Kind}")]
    public static partial void PieceFailed(ILogger logger, ContentDigest digest, int index, string parent, FailureKind kind);

    [LoggerMessage(4028, LogLevel.Warning, "Piece {Index} of {Digest} from {Parent} did not match its digest; that parent is not used again for this task")]
    public static partial void PieceCorrupt(ILogger logger, ContentDigest digest, int index, string parent);

    [LoggerMessage(4024, LogLevel.Debug, "Download of {Digest} has nothing to fetch from its {Parents} parents; asking for more")]
    public static partial void NeedParents(ILogger logger, ContentDigest digest, int parents);

    [LoggerMessage(4025, LogLevel.Warning, "Piece {Index} of {Digest} was damaged on disk; fetching it again")]
    public static partial void DamagedOnDisk(ILogger logger, ContentDigest digest, int index);

    [LoggerMessage(4026, LogLevel.Information, "Download of {Digest} resumes without the earlier partial file: {Reason}")]
    public static partial void PartialDiscarded(ILogger logger, ContentDigest digest, string reason);

    [LoggerMessage(4027, LogLevel.Warning, "A progress listener of {Digest} threw")]
    public static partial void ProgressListenerFailed(ILogger logger, ContentDigest digest, Exception exception);

    [LoggerMessage(4030, LogLevel.Information, "Download of {Digest} is the task's source: fetching what no parent has from {Source}")]
    public static partial void SourceStarted(ILogger logger, ContentDigest digest, string source);

    [LoggerMessage(4031, LogLevel.Warning, "Back-to-source of {Digest} from {Source} gave up (permanent: {Permanent}): {Error}")]
    public static partial void SourceGaveUp(ILogger logger, ContentDigest digest, string source, bool permanent, string error);

    [LoggerMessage(4032, LogLevel.Information, "Back-to-source of {Digest} from {Source} is complete: the file hashes to {Content}")]
    public static partial void SourceFinished(ILogger logger, ContentDigest digest, string source, ContentDigest content);

    [LoggerMessage(4033, LogLevel.Warning, "Piece {Index} of {Digest}: the scheduler sent a digest other than the one already known; keeping the first")]
    public static partial void DigestConflict(ILogger logger, ContentDigest digest, int index);

    [LoggerMessage(4034, LogLevel.Warning, "The stored copy of {Digest} is out of date ({Reason}); downloading it again")]
    public static partial void StoredContentStale(ILogger logger, ContentDigest digest, string reason);
}
