using Prometheus;

namespace Dragonfly.PubSub.Transfer.Metrics;

/// <summary>The agent's Prometheus metrics; names are part of the contract (contract.md).</summary>
public static class AgentMetrics
{
    public static readonly Counter DownloadBytes = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_download_bytes_total", "Verified bytes downloaded, by where they came from.",
        new CounterConfiguration { LabelNames = ["source"] });

    /// <summary>Bytes received from other peers.</summary>
    public static readonly Counter.Child DownloadBytesFromPeers = DownloadBytes.WithLabels("peer");

    /// <summary>Bytes fetched back-to-source from an origin.</summary>
    public static readonly Counter.Child DownloadBytesFromSource = DownloadBytes.WithLabels("source");

    public static readonly Counter UploadBytes = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_upload_bytes_total", "Piece bytes sent to other peers.");

    public static readonly Counter Tasks = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_tasks_total", "Tasks that ended, by final state.",
        new CounterConfiguration { LabelNames = ["state"] });

    public static readonly Counter PieceVerifyFailures = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_piece_verify_failures_total", "Pieces whose bytes did not match their digest and were thrown away.");

    public static readonly Counter PieceFetchFailures = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_piece_fetch_failures_total", "Piece requests that failed (unreachable or missing at the parent).");

    public static readonly Gauge PiecesInFlight = Prometheus.Metrics.CreateGauge(
        "dragonfly_agent_pieces_in_flight", "Piece downloads running now.");

    public static readonly Gauge CacheBytes = Prometheus.Metrics.CreateGauge(
        "dragonfly_agent_cache_bytes", "Bytes on disk that only the agent's content store holds (complete content and partial downloads; files shared by a hard link with an output or a published file are not counted).");

    public static readonly Gauge CacheLimitBytes = Prometheus.Metrics.CreateGauge(
        "dragonfly_agent_cache_limit_bytes", "The cache size the agent keeps to (--cache-size); 0 = no limit.");

    public static readonly Counter CacheEvictions = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_cache_evictions_total", "Stored files (content or partial downloads) evicted from the cache.");

    public static readonly Counter CacheEvictedBytes = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_cache_evicted_bytes_total", "Bytes freed by cache evictions.");

    public static readonly Counter DiskFull = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_disk_full_total", "Downloads stopped because the disk was full (they resume when space returns).");

    /// <summary>
    /// Requests and connections the peer port turned away (issue 11, attacks 4 and 7), by why:
    /// <c>ticket</c> (a piece request without a valid ticket for its task), <c>connections</c> (over the
    /// total or per-address connection cap), <c>send_timeout</c> (a client that stopped reading a response);
    /// and, not attacks but load, <c>full</c> (every upload slot and queue place taken) and <c>busy</c> (this
    /// peer is already sending that piece of a complete artifact to someone else): the requester asks elsewhere.
    /// </summary>
    public static readonly Counter PeerRefused = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_peer_refused_total", "Piece requests and peer connections the peer port refused or dropped, by reason.",
        new CounterConfiguration { LabelNames = ["reason"] });

    /// <summary>
    /// Peer-port connections by direction: <c>out</c> opened to parents (piece requests, pipelined on one connection per
    /// parent, and map watches), <c>in</c> accepted from children past the TLS handshake. Under TLS each one costs a
    /// handshake on both sides, so a rate that grows with the pieces rather than the peers says connections are not reused.
    /// </summary>
    public static readonly Counter PeerConnections = Prometheus.Metrics.CreateCounter(
        "dragonfly_agent_peer_connections_total", "Peer-port connections opened to parents (out) and accepted from children (in).",
        new CounterConfiguration { LabelNames = ["direction"] });

    public static readonly Counter.Child PeerConnectionsOpened = PeerConnections.WithLabels("out");

    public static readonly Counter.Child PeerConnectionsAccepted = PeerConnections.WithLabels("in");

    /// <summary>
    /// Exports every series at 0 from the start, as Prometheus expects: a dashboard or alert then sees
    /// "no origin bytes yet" rather than a missing series that looks like a renamed metric.
    /// </summary>
    public static void ExportAll()
    {
        DownloadBytesFromPeers.Inc(0);
        DownloadBytesFromSource.Inc(0);
        Tasks.WithLabels("succeeded").Inc(0);
        Tasks.WithLabels("failed").Inc(0);
        CacheEvictions.Inc(0);
        CacheEvictedBytes.Inc(0);
        DiskFull.Inc(0);
        PeerConnectionsOpened.Inc(0);
        PeerConnectionsAccepted.Inc(0);
        foreach (var reason in (string[])["ticket", "connections", "send_timeout", "full", "busy"])
        {
            PeerRefused.WithLabels(reason).Inc(0);
        }
    }
}
