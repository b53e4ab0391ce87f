using System.Buffers;
using System.Security.Authentication;
using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// Across clusters (issue 12, <c>dfbroker --bridge-from HOST:PORT</c>): an MQTT bridge of this cluster's MQTT
/// broker (<c>--mqtt-url</c>) brings the other cluster's announcements into <see cref="BridgedPrefix"/>
/// (Mosquitto: <c>topic # in 1 dragonfly/bridged/ dragonfly/announce/</c>), where this cluster's agents do not
/// see them. For each one (signed by a broker of the shared fleet CA in secure mode), the bridge's remote
/// member fetches the file once from the other cluster's swarm, and its local member publishes it here on the
/// same topic and name: this cluster's agents then get a normal announcement of this broker and download from
/// the local member and each other. Never the origin again, whatever the number of agents here.
/// Announcements that were themselves bridged (label <see cref="BridgedFromLabel"/>) are not bridged back.
/// Several brokers here given <c>--bridge-from</c> share the imports through <see cref="IBridgeClaims"/>: each file once.
/// </summary>
public sealed class BridgeImporter : IAsyncDisposable
{
    public const string BridgedPrefix = "dragonfly/bridged/";
    public const string BridgedFromLabel = "dragonfly.bridged-from";

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(10);

    private readonly BrokerOptions _options;
    private readonly MqttUrl _mqtt;
    private readonly string _clientId;
    private readonly BridgeMembers _members;
    private readonly ManifestCatalogue _catalogue;
    private readonly IBridgeClaims _claims;
    private readonly Func<TlsIdentity>? _trust;
    private readonly ILogger _logger;
    private readonly IMqttClient _client;
    private readonly Channel<Announcement> _work = Channel.CreateUnbounded<Announcement>();
    private readonly HashSet<string> _pending = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _filesDir;
    private Task _loops = Task.CompletedTask;

    private BridgeImporter(
        BrokerOptions options, BridgeMembers members, ManifestCatalogue catalogue, IBridgeClaims claims, Func<TlsIdentity>? trust, ILogger logger)
    {
        _options = options;
        _mqtt = options.MqttUrl!;
        _clientId = $"dfbroker-{catalogue.BrokerId}-bridge";
        _members = members;
        _catalogue = catalogue;
        _claims = claims;
        _trust = trust;
        _logger = logger;
        _filesDir = Path.Combine(options.DataDir, "bridge", "files");
        Directory.CreateDirectory(_filesDir); // the markers, also of files another broker imported
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += e =>
        {
            OnMessage(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
    }

    /// <summary>Starts the bridge's agents (this broker's scheduler at <paramref name="grpcPort"/>) and follows the bridged topic.</summary>
    public static async Task<BridgeImporter> StartAsync(BrokerOptions options, int grpcPort, IServiceProvider services, CancellationToken cancellationToken)
    {
        var catalogue = services.GetRequiredService<ManifestCatalogue>();
        var logging = services.GetRequiredService<ILoggerFactory>();
        var tls = services.GetService<BrokerTls>();
        var identity = tls is null
            ? null
            : new BridgeIdentity(services.GetRequiredService<Enrollment>(), tls, catalogue.BrokerId, services.GetRequiredService<TimeProvider>());
        var members = await BridgeMembers.StartAsync(options, grpcPort, identity is null ? null : () => identity.Current, logging, cancellationToken)
            .ConfigureAwait(false);
        IBridgeClaims claims = services.GetService<State.RedisState>() is { } redis
            ? new RedisBridgeClaims(redis, catalogue.BrokerId)
            : new SingleBrokerBridgeClaims();
        var importer = new BridgeImporter(options, members, catalogue, claims, tls is null ? null : () => tls.Current, logging.CreateLogger("Dragonfly.PubSub.Broker.Bridge"));
        BrokerLog.BridgeStarted(importer._logger, options.BridgeFromShown, BridgedPrefix + "#", importer._mqtt.Shown, members.Remote.PeerId);
        importer._loops = Task.WhenAll(importer.FollowAsync(importer._stopping.Token), importer.ImportAllAsync(importer._stopping.Token));
        return importer;
    }

    /// <summary>Connects (persistent session: what is bridged while this broker is down waits for it) and subscribes, again whenever the connection drops.</summary>
    private async Task FollowAsync(CancellationToken stoppingToken)
    {
        var reported = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    var result = await _client.ConnectAsync(Options(), stoppingToken).ConfigureAwait(false);
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                    {
                        throw new InvalidOperationException($"it refused the connection: {result.ResultCode} {result.ReasonString}");
                    }
                    await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(BridgedPrefix + "#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), stoppingToken).ConfigureAwait(false);
                    reported = false;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    if (!reported)
                    {
                        BrokerLog.BridgeMqttUnavailable(_logger, _mqtt.Shown, e.Message);
                        reported = true;
                    }
                }
            }
            try
            {
                await Task.Delay(_client.IsConnected ? TimeSpan.FromSeconds(1) : TimeSpan.FromMilliseconds(500), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private MqttClientOptions Options()
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_mqtt.Host, _mqtt.Port)
            .WithClientId(_clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)TimeSpan.FromDays(1).TotalSeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (_mqtt.UserName is { } user)
        {
            builder.WithCredentials(user, _mqtt.Password ?? "");
        }
        if (_mqtt.Tls)
        {
            builder.WithTlsOptions(new MqttClientTlsOptions { UseTls = true, TargetHost = _mqtt.Host, SslProtocol = SslProtocols.Tls12 | SslProtocols.Tls13 });
        }
        return builder.Build();
    }

    /// <summary>Checks a bridged announcement and queues it, unless it was imported already or is on its way.</summary>
    private void OnMessage(string mqttTopic, ReadOnlySequence<byte> payload)
    {
        if (payload.IsEmpty || !mqttTopic.StartsWith(BridgedPrefix, StringComparison.Ordinal))
        {
            return; // a cleared retained message
        }
        var announcement = Announcement.TryParse(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray(), out var error);
        var problem = announcement is null ? error ?? "unreadable"
            : announcement.Topic != mqttTopic[BridgedPrefix.Length..] ? $"it names topic '{announcement.Topic}'"
            : announcement.Blobs.Count > 0 || ImageBlobLabels.IsImage(announcement.Labels) || ImageBlobLabels.IsImageBlob(announcement.Labels)
                ? "container image announcements are not bridged (preheat the image in each cluster)"
            : SignatureProblem(announcement);
        if (problem is not null)
        {
            BrokerLog.BridgeIgnored(_logger, mqttTopic, problem);
            return;
        }
        if (announcement!.Labels.ContainsKey(BridgedFromLabel) || File.Exists(MarkerOf(announcement.Digest)))
        {
            return; // bridged into that cluster from another (not bridged back), or imported here already
        }
        lock (_lock)
        {
            if (!_pending.Add(announcement.Digest))
            {
                return;
            }
        }
        _work.Writer.TryWrite(announcement);
    }

    /// <summary>In secure mode: signed by a broker of this fleet (the clusters share the fleet CA); null when good.</summary>
    private string? SignatureProblem(Announcement announcement)
    {
        if (_trust is null)
        {
            return null;
        }
        var (verdict, reason) = AnnouncementSignatureCheck.Verify(_trust(), announcement.Signer, announcement.Signature, AnnouncementSigning.BytesToSign(announcement));
        return verdict == SignatureVerdict.Valid ? null : $"{announcement.Digest} ({announcement.Name}) {reason}";
    }

    private async Task ImportAllAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var announcement in _work.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var claim = await _claims.ClaimAsync(announcement.Digest, stoppingToken).ConfigureAwait(false);
                    switch (claim.State)
                    {
                        case BridgeClaimState.Busy:
                            BrokerLog.BridgeImportBusy(_logger, announcement.Digest, announcement.Name, claim.By!, (int)RetryDelay.TotalSeconds);
                            _ = RetryLaterAsync(announcement, stoppingToken);
                            continue;
                        case BridgeClaimState.Imported:
                            BrokerLog.BridgeImportedElsewhere(_logger, announcement.Digest, announcement.Name, claim.By!, claim.LocalDigest!);
                            await File.WriteAllTextAsync(MarkerOf(announcement.Digest), claim.LocalDigest + "\n", stoppingToken).ConfigureAwait(false);
                            break;
                        default:
                            await ImportClaimedAsync(announcement, stoppingToken).ConfigureAwait(false);
                            break;
                    }
                    lock (_lock)
                    {
                        _pending.Remove(announcement.Digest);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    BrokerLog.BridgeImportFailed(_logger, announcement.Digest, announcement.Name, _options.BridgeFromShown, e.Message, (int)RetryDelay.TotalSeconds);
                    _ = RetryLaterAsync(announcement, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task RetryLaterAsync(Announcement announcement, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(false);
            _work.Writer.TryWrite(announcement);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Imports a file this broker claimed, renewing the claim meanwhile; marks it imported for every broker here, or
    /// gives the claim up when the import fails. Stops when another broker took the claim over (this one's lapsed).
    /// </summary>
    private async Task ImportClaimedAsync(Announcement announcement, CancellationToken stoppingToken)
    {
        using var importing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewing = KeepClaimAsync(announcement.Digest, importing);
        try
        {
            var localDigest = await ImportAsync(announcement, importing.Token).ConfigureAwait(false);
            await _claims.CompleteAsync(announcement.Digest, localDigest, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception) when (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _claims.ReleaseAsync(announcement.Digest).ConfigureAwait(false);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                // The claim lapses by itself after its lease.
            }
            throw;
        }
        finally
        {
            await importing.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
        }
    }

    /// <summary>Renews the claim every third of its lease until <paramref name="importing"/> ends; cancels it when the claim is lost.</summary>
    private async Task KeepClaimAsync(string digest, CancellationTokenSource importing)
    {
        if (_claims.Lease == Timeout.InfiniteTimeSpan)
        {
            return;
        }
        try
        {
            while (true)
            {
                await Task.Delay(_claims.Lease / 3, importing.Token).ConfigureAwait(false);
                bool held;
                try
                {
                    held = await _claims.RenewAsync(digest, importing.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
                {
                    continue; // Redis away for a moment: keep importing, renew at the next turn
                }
                if (!held)
                {
                    BrokerLog.BridgeClaimLost(_logger, digest);
                    await importing.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The import ended.
        }
    }

    /// <summary>Fetches the file from the other cluster (remote member), then publishes it here (local member); the local digest.</summary>
    private async Task<string> ImportAsync(Announcement announcement, CancellationToken cancellationToken)
    {
        BrokerLog.BridgeFetching(_logger, announcement.Digest, announcement.Name, announcement.Topic, _options.BridgeFromShown);
        var path = Path.Combine(_filesDir, ContentDigest.Parse(announcement.Digest).Hex, announcement.Name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        TaskInfo fetched;
        using (var remote = new DragonflyClient(new DragonflyClientOptions { DataDir = _members.Remote.DataDir }))
        {
            fetched = await remote.DownloadAsync(announcement.Digest, path, progress: null, cancellationToken).ConfigureAwait(false);
        }
        if (fetched.State != TaskStates.Succeeded)
        {
            throw new InvalidOperationException(fetched.Error ?? $"the download ended {fetched.State}");
        }
        var labels = new Dictionary<string, string>(announcement.Labels) { [BridgedFromLabel] = _options.BridgeFromShown };
        PublishResult published;
        using (var local = new DragonflyClient(new DragonflyClientOptions { DataDir = _members.Local.DataDir }))
        {
            published = await local.PublishAsync(new PublishRequest
            {
                Path = path,
                Topic = announcement.Topic,
                Name = announcement.Name,
                Labels = labels,
                PieceSize = announcement.PieceSize > 0 ? announcement.PieceSize : null,
            }, cancellationToken).ConfigureAwait(false);
        }
        await File.WriteAllTextAsync(MarkerOf(announcement.Digest), published.Digest + "\n", cancellationToken).ConfigureAwait(false);
        BrokerLog.BridgeImported(_logger, announcement.Digest, announcement.Name, fetched.Size, _options.BridgeFromShown,
            fetched.BytesFromPeers, fetched.BytesFromSource, published.Digest, announcement.Topic);
        return published.Digest;
    }

    /// <summary>Written once a digest is imported, so that a retained copy delivered again (reconnect, restart) is not imported twice.</summary>
    private string MarkerOf(string digest) =>
        Path.Combine(_filesDir, (ContentDigest.TryParse(digest, out var parsed) ? parsed.Value.Hex : "invalid") + ".imported");

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _work.Writer.TryComplete();
        try
        {
            await _loops.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Stopping anyway.
        }
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The MQTT broker notices the closed socket.
            }
        }
        _client.Dispose();
        _stopping.Dispose();
        await _members.DisposeAsync().ConfigureAwait(false);
    }
}
