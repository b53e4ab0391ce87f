namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>The agent's log lines (event ids 1000–1099), source-generated.</summary>
internal static partial class AgentLog
{
    [LoggerMessage(1000, LogLevel.Information, "dfagent {PeerId} serving pieces on port {PeerPort}, HTTP on port {HttpPort}, data dir {DataDir}{Role}")]
    public static partial void Started(ILogger logger, string peerId, int peerPort, int httpPort, string dataDir, string role);

    [LoggerMessage(1001, LogLevel.Information, "connected to scheduler {Broker}")]
    public static partial void SchedulerConnected(ILogger logger, string broker);

    [LoggerMessage(1002, LogLevel.Warning, "scheduler {Broker} unavailable ({Reason}); retrying")]
    public static partial void SchedulerUnavailable(ILogger logger, string broker, string reason);

    [LoggerMessage(1003, LogLevel.Information, "scheduler stream to {Broker} ended; reconnecting")]
    public static partial void SchedulerStreamEnded(ILogger logger, string broker);

    [LoggerMessage(1004, LogLevel.Debug, "scheduler welcome from broker {BrokerId}")]
    public static partial void SchedulerWelcome(ILogger logger, string brokerId);

    [LoggerMessage(1005, LogLevel.Error, "could not act on scheduler event {Event}: {Reason}")]
    public static partial void SchedulerEventFailed(ILogger logger, Exception exception, string @event, string reason);

    [LoggerMessage(1010, LogLevel.Information, "connected to MQTT {Mqtt}, subscribed to {Filters} (session kept: {SessionPresent})")]
    public static partial void MqttConnected(ILogger logger, string mqtt, string filters, bool sessionPresent);

    [LoggerMessage(1016, LogLevel.Debug, "start-up heap settled: {HeapMiB:0.0} MiB kept, {Milliseconds:0.0} ms")]
    public static partial void StartupHeapSettled(ILogger logger, double heapMiB, double milliseconds);

    [LoggerMessage(1090, LogLevel.Warning, "the broker refused the subscription to {Filter} ({Code} {Reason}); this agent's certificate does not grant that topic filter, so nothing announced there arrives; enrol with a token whose --topics cover it")]
    public static partial void SubscriptionRefused(ILogger logger, string filter, string code, string reason);

    [LoggerMessage(1011, LogLevel.Warning, "MQTT {Mqtt} unavailable ({Reason}); retrying")]
    public static partial void MqttUnavailable(ILogger logger, string mqtt, string reason);

    [LoggerMessage(1012, LogLevel.Warning, "ignored announcement on {Topic}: {Reason}")]
    public static partial void AnnouncementIgnored(ILogger logger, string topic, string reason);

    [LoggerMessage(1015, LogLevel.Warning, "the manifest carried by the announcement of {Digest} was not used ({Reason}); asking the scheduler for it")]
    public static partial void InlineManifestIgnored(ILogger logger, string digest, string reason);

    [LoggerMessage(1013, LogLevel.Warning, "refused announcement on {Topic} ({Reason}): {Why}")]
    public static partial void AnnouncementRefused(ILogger logger, string topic, string reason, string why);

    [LoggerMessage(1014, LogLevel.Warning, "ignored stale announcement of {Digest} for {Topic}/{Name}: sequence {Sequence} is not newer than {LastSequence} ({LastDigest}), already acted on for that output path")]
    public static partial void AnnouncementStale(ILogger logger, string digest, string topic, string name, long sequence, long lastSequence, string lastDigest);

    [LoggerMessage(1020, LogLevel.Information, "announced {Digest} {Name} on {Topic} ({Size}); downloading")]
    public static partial void Announced(ILogger logger, string digest, string name, string topic, string size);

    [LoggerMessage(1021, LogLevel.Information, "resuming {Digest} {Name}: {Done}/{Total} pieces already verified")]
    public static partial void TaskResumed(ILogger logger, string digest, string name, int done, int total);

    [LoggerMessage(1022, LogLevel.Information, "task {Digest} {Name} succeeded; placed at {Outputs}")]
    public static partial void TaskSucceeded(ILogger logger, string digest, string name, string outputs);

    [LoggerMessage(1023, LogLevel.Error, "task {Digest} {Name} failed: {Error}")]
    public static partial void TaskFailed(ILogger logger, string digest, string name, string error);

    [LoggerMessage(1024, LogLevel.Information, "published {Digest} {Name} on {Topic} ({Size}); seeding")]
    public static partial void Published(ILogger logger, string digest, string name, string topic, string size);

    [LoggerMessage(1025, LogLevel.Information, "URL task {TaskId} for {Url} ({Size})")]
    public static partial void UrlRegistered(ILogger logger, string taskId, string url, string size);

    // Broker restarts mid URL task (issue 12): 1070-1074.
    [LoggerMessage(1070, LogLevel.Information, "broker {Broker} no longer knew URL task {TaskId}; registered it again ({How})")]
    public static partial void UrlTaskRegained(ILogger logger, string broker, string taskId, string how);

    [LoggerMessage(1071, LogLevel.Warning, "URL task {TaskId} is lost: {Reason}")]
    public static partial void UrlTaskLost(ILogger logger, string taskId, string reason);

    [LoggerMessage(1072, LogLevel.Information, "broker {Broker} does not count this agent in task {TaskId}; joining again")]
    public static partial void NotJoined(ILogger logger, string broker, string taskId);

    [LoggerMessage(1026, LogLevel.Information, "announced URL task {TaskId} for {Url} on {Topic} ({Size})")]
    public static partial void UrlPublished(ILogger logger, string taskId, string url, string topic, string size);

    [LoggerMessage(1030, LogLevel.Information, "preheated image blob {Digest} announced on {Topic} ({Size}); caching")]
    public static partial void ImageBlobAnnounced(ILogger logger, string digest, string topic, string size);

    [LoggerMessage(1031, LogLevel.Information, "image blob {Digest} from {Url} ({Size}): fetching through the swarm")]
    public static partial void ImageBlobRequested(ILogger logger, string digest, string url, string size);

    [LoggerMessage(1032, LogLevel.Warning, "image blob {Blob} could not be fetched through the swarm: {Error}")]
    public static partial void ImageBlobFailed(ILogger logger, string blob, string error);

    [LoggerMessage(1033, LogLevel.Information, "preheated image {Digest} ({Image}) announced on {Topic}: {Blobs} blob(s), {Missing} not held yet; caching them")]
    public static partial void ImageAnnounced(ILogger logger, string digest, string image, string topic, int blobs, int missing);

    [LoggerMessage(1034, LogLevel.Warning, "blob {Blob} of preheated image {Image} on {Topic} skipped: {Reason}")]
    public static partial void ImageBlobSkipped(ILogger logger, string blob, string image, string topic, string reason);

    [LoggerMessage(1040, LogLevel.Information, "registry mirror on port {ProxyPort} (default upstream: {Upstream})")]
    public static partial void MirrorStarted(ILogger logger, int proxyPort, string upstream);

    [LoggerMessage(1050, LogLevel.Information, "enrolled as {PeerId} (role {Role}); certificate valid until {NotAfter}, kept in {Dir}")]
    public static partial void Enrolled(ILogger logger, string peerId, string role, string notAfter, string dir);

    [LoggerMessage(1051, LogLevel.Information, "certificate of {PeerId} renewed; valid until {NotAfter}")]
    public static partial void CertificateRenewed(ILogger logger, string peerId, string notAfter);

    [LoggerMessage(1052, LogLevel.Warning, "certificate renewal failed ({Reason}); the certificate {Left}; retrying")]
    public static partial void RenewalFailed(ILogger logger, string reason, string left);

    [LoggerMessage(1053, LogLevel.Information, "the certificate in {Dir} expired; enrolling again with the join token (tasks and pieces are kept)")]
    public static partial void CertificateExpiredReenrolling(ILogger logger, string dir);

    [LoggerMessage(1054, LogLevel.Warning, "running WITHOUT TLS: --insecure turns off authentication and encryption on every connection of this agent")]
    public static partial void Insecure(ILogger logger);

    [LoggerMessage(1057, LogLevel.Warning, "announcements are acted on WITHOUT a signature check (--insecure: no fleet CA to check the broker's signature against); they are still ordered by the broker's sequence number")]
    public static partial void AnnouncementsUnverified(ILogger logger);

    [LoggerMessage(1055, LogLevel.Information, "revocation list updated: {Count} peer(s) refused")]
    public static partial void RevocationsUpdated(ILogger logger, int count);

    [LoggerMessage(1056, LogLevel.Error, "this agent's certificate ({PeerId}) is revoked: the broker refuses it; stopping")]
    public static partial void SelfRevoked(ILogger logger, string peerId);
}
