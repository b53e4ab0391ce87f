using System.Globalization;
using System.Net;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>Merges flags &gt; environment (<c>DFBROKER_*</c>) &gt; config file &gt; defaults.</summary>
public static class BrokerOptionsResolver
{
    /// <summary>Throws <see cref="UserFacingException"/> (exit 2) for a value the user has to fix.</summary>
    public static BrokerOptions Resolve(BrokerCommandLine flags, Func<string, string?> environment)
    {
        var file = new BrokerConfigFile();
        if (flags.ConfigFile is not null)
        {
            var (loaded, problems) = BrokerConfigFile.Load(flags.ConfigFile);
            if (loaded is null || problems.Count > 0)
            {
                throw UserFacingException.Usage(problems.Count == 1
                    ? problems[0]
                    : $"config file '{flags.ConfigFile}': {string.Join("; ", problems)}");
            }
            file = loaded;
        }

        var dataDir = flags.DataDir ?? Env(environment, "DFBROKER_DATA_DIR") ?? file.DataDir ?? BrokerOptions.DefaultDataDir(environment);
        var listenText = flags.Listen ?? Env(environment, "DFBROKER_LISTEN") ?? file.Listen;
        var listen = IPAddress.Any;
        if (listenText is not null)
        {
            listen = ParseListen(listenText)
                ?? throw UserFacingException.Usage($"--listen '{listenText}' is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1");
        }
        return new BrokerOptions
        {
            DataDir = Path.GetFullPath(ExpandHome(dataDir)),
            Listen = listen,
            MqttPort = Port("--mqtt-port", flags.MqttPort, environment, "DFBROKER_MQTT_PORT", file.MqttPort, BrokerOptions.DefaultMqttPort),
            MqttUrl = ExternalMqtt(flags, file, environment),
            State = SharedState(flags, file, environment),
            BridgeFrom = BrokerList(flags.BridgeFrom, "--bridge-from", "DFBROKER_BRIDGE_FROM", environment),
            BridgeTo = BrokerList(flags.BridgeTo, "--bridge-to", "DFBROKER_BRIDGE_TO", environment),
            GrpcPort = Port("--grpc-port", flags.GrpcPort, environment, "DFBROKER_GRPC_PORT", file.GrpcPort, BrokerOptions.DefaultGrpcPort),
            HttpPort = Port("--http-port", flags.HttpPort, environment, "DFBROKER_HTTP_PORT", file.HttpPort, BrokerOptions.DefaultHttpPort),
            MaxParents = Int(environment, "DFBROKER_MAX_PARENTS", 1, 64) ?? file.MaxParents ?? BrokerOptions.DefaultMaxParents,
            AnnounceManifestMax = Int(environment, "DFBROKER_ANNOUNCE_MANIFEST_MAX", 0, Announcement.MaxInlineManifest)
                ?? file.AnnounceManifestMax ?? Announcement.DefaultInlineManifestMax,
            Verbose = flags.Verbose || Env(environment, "DFBROKER_VERBOSE") is "1" or "true",
            Seed = !flags.NoSeed && (file.Seed ?? true),
            SeedPort = Port("--seed-port", flags.SeedPort, environment, "DFBROKER_SEED_PORT", file.SeedPort, BrokerOptions.DefaultSeedPort),
            SeedUploadLimit = SeedUploadLimit(flags, file, environment),
            S3 = S3(file, environment),
            FileOriginRoots = FileOriginRoots(flags, file, environment),
            S3Buckets = S3Buckets(flags, file, environment),
            Egress = Egress(flags, file, environment),
            Registries = Registries(file, environment),
            MqttsPort = Port("--mqtts-port", flags.MqttsPort, environment, "DFBROKER_MQTTS_PORT", file.MqttsPort, BrokerOptions.DefaultMqttsPort),
            Tls = BrokerTlsResolver.Resolve(flags, environment, file),
        };
    }

    /// <summary>--seed-upload-limit &gt; DFBROKER_SEED_UPLOAD_LIMIT &gt; config seedUploadLimit: bytes per second, 0 for none.</summary>
    private static long SeedUploadLimit(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var (source, text) = flags.SeedUploadLimit is not null ? ("--seed-upload-limit", flags.SeedUploadLimit)
            : Env(environment, "DFBROKER_SEED_UPLOAD_LIMIT") is { } fromEnvironment ? ("DFBROKER_SEED_UPLOAD_LIMIT", fromEnvironment)
            : ("seedUploadLimit", file.SeedUploadLimit);
        return ByteSize.ParseRate(text, source);
    }

    /// <summary>--mqtt-url &gt; DFBROKER_MQTT_URL &gt; config mqttUrl: mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT]; null: the embedded server.</summary>
    private static MqttUrl? ExternalMqtt(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var (source, text) = flags.MqttUrl is not null ? ("--mqtt-url", flags.MqttUrl)
            : Env(environment, "DFBROKER_MQTT_URL") is { } fromEnvironment ? ("DFBROKER_MQTT_URL", fromEnvironment)
            : ("mqttUrl", file.MqttUrl);
        if (text is null)
        {
            return null;
        }
        return MqttUrl.TryParse(text, out var error) ?? throw UserFacingException.Usage($"{source}: {error}");
    }

    /// <summary>--state &gt; DFBROKER_STATE &gt; config state: redis://… or redis-sentinel://…/SERVICE; null: LiteDB in the data dir.</summary>
    private static State.StateUrl? SharedState(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var (source, text) = flags.State is not null ? ("--state", flags.State)
            : Env(environment, "DFBROKER_STATE") is { } fromEnvironment ? ("DFBROKER_STATE", fromEnvironment)
            : ("state", file.State);
        if (text is null)
        {
            return null;
        }
        return State.StateUrl.TryParse(text, out var error) ?? throw UserFacingException.Usage($"{source}: {error}");
    }

    /// <summary>--file-origin-root (repeatable) &gt; DFBROKER_FILE_ORIGIN_ROOTS (path-separator list) &gt; config fileOriginRoots; each must be a directory.</summary>
    private static IReadOnlyList<string> FileOriginRoots(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var (source, roots) = flags.FileOriginRoots.Count > 0 ? ("--file-origin-root", flags.FileOriginRoots)
            : Env(environment, "DFBROKER_FILE_ORIGIN_ROOTS") is { } list
                ? ("DFBROKER_FILE_ORIGIN_ROOTS", (IReadOnlyList<string>)list.Split(Path.PathSeparator, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            : ("fileOriginRoots", file.FileOriginRoots ?? []);
        var resolved = new List<string>(roots.Count);
        foreach (var root in roots)
        {
            if (string.IsNullOrWhiteSpace(root))
            {
                throw UserFacingException.Usage($"{source}: an empty directory name; give an existing directory");
            }
            var full = Path.GetFullPath(ExpandHome(root));
            if (!Directory.Exists(full))
            {
                throw UserFacingException.Usage($"{source} '{root}' is not a directory; give an existing directory under which file:// URLs may be served");
            }
            resolved.Add(full);
        }
        return resolved;
    }

    /// <summary>--s3-bucket (repeatable) &gt; DFBROKER_S3_BUCKETS (comma-separated) &gt; config s3Buckets; each a bucket name.</summary>
    private static IReadOnlyList<string> S3Buckets(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var (source, buckets) = flags.S3Buckets.Count > 0 ? ("--s3-bucket", flags.S3Buckets)
            : Env(environment, "DFBROKER_S3_BUCKETS") is { } list
                ? ("DFBROKER_S3_BUCKETS", (IReadOnlyList<string>)list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            : ("s3Buckets", file.S3Buckets ?? []);
        foreach (var bucket in buckets)
        {
            if (UrlTasks.S3BucketPolicy.Validate(bucket) is { } problem)
            {
                throw UserFacingException.Usage($"{source}: {problem}");
            }
        }
        return buckets;
    }

    /// <summary>--allow-origin (repeatable) &gt; DFBROKER_ALLOW_ORIGINS (comma-separated) &gt; config allowOrigins; each a host name, IP address or CIDR.</summary>
    private static EgressPolicy Egress(BrokerCommandLine flags, BrokerConfigFile file, Func<string, string?> environment)
    {
        var allowances = flags.AllowOrigins.Count > 0 ? flags.AllowOrigins
            : Env(environment, "DFBROKER_ALLOW_ORIGINS") is { } list
                ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : file.AllowOrigins ?? [];
        try
        {
            return allowances.Count == 0 ? EgressPolicy.PublicOnlyWithoutAllowances : EgressPolicy.PublicOnly(allowances);
        }
        catch (FormatException e)
        {
            throw UserFacingException.Usage(e.Message);
        }
    }

    /// <summary>Config registries per host; DFBROKER_REGISTRY_USERNAME/PASSWORD for every other registry.</summary>
    private static RegistryCredentials Registries(BrokerConfigFile file, Func<string, string?> environment)
    {
        var username = Env(environment, "DFBROKER_REGISTRY_USERNAME");
        var password = environment("DFBROKER_REGISTRY_PASSWORD");
        if ((username is null) != (password is null))
        {
            throw UserFacingException.Usage("set both DFBROKER_REGISTRY_USERNAME and DFBROKER_REGISTRY_PASSWORD, or neither");
        }
        return new RegistryCredentials
        {
            PerRegistry = new Dictionary<string, RegistryLogin>(file.Registries ?? new Dictionary<string, RegistryLogin>(), StringComparer.OrdinalIgnoreCase),
            Default = username is null ? null : new RegistryLogin(username, password!),
        };
    }

    /// <summary>The config file's s3* keys over the AWS_* (and DRAGONFLY_S3_*) environment.</summary>
    private static S3OriginOptions S3(BrokerConfigFile file, Func<string, string?> environment)
    {
        S3OriginOptions fromEnvironment;
        try
        {
            fromEnvironment = S3OriginOptions.FromEnvironment(environment);
        }
        catch (FormatException e)
        {
            throw UserFacingException.Usage($"{e.Message.TrimEnd('.')}; fix the environment variable or set s3Endpoint in the config file");
        }
        var endpoint = file.S3Endpoint is { } text ? new Uri(text, UriKind.Absolute) : fromEnvironment.Endpoint;
        var ownKeys = file.S3AccessKey is not null;
        return fromEnvironment with
        {
            Endpoint = endpoint,
            // S3-compatible servers want path-style addressing, as FromEnvironment assumes for an endpoint.
            ForcePathStyle = fromEnvironment.ForcePathStyle || (file.S3Endpoint is not null && Env(environment, "DRAGONFLY_S3_PATH_STYLE") is null),
            Region = file.S3Region ?? fromEnvironment.Region,
            AccessKeyId = ownKeys ? file.S3AccessKey : fromEnvironment.AccessKeyId,
            SecretAccessKey = ownKeys ? file.S3SecretKey : fromEnvironment.SecretAccessKey,
            SessionToken = ownKeys ? null : fromEnvironment.SessionToken,
        };
    }

    /// <summary>An IP address, or <c>localhost</c> for the IPv4 loopback; null when neither.</summary>
    public static IPAddress? ParseListen(string text) =>
        text.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(text, out var address) ? address
        : null;

    private static int Port(string flag, int? fromFlag, Func<string, string?> environment, string variable, int? fromFile, int fallback)
    {
        if (fromFlag is { } value)
        {
            return value is >= 0 and <= 65535
                ? value
                : throw UserFacingException.Usage($"{flag} {value} is not a port; use 0 (pick a free one) to 65535");
        }
        return Int(environment, variable, 0, 65535) ?? fromFile ?? fallback;
    }

    private static int? Int(Func<string, string?> environment, string variable, int min, int max)
    {
        var text = Env(environment, variable);
        if (text is null)
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw UserFacingException.Usage($"environment variable {variable}='{text}' is not a number from {min} to {max}");
    }

    private static string? Env(Func<string, string?> environment, string variable) =>
        environment(variable) is { Length: > 0 } value ? value : null;

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.TrimStart('~').TrimStart('/'))
            : path;

    // Across clusters (issue 12).
    /// <summary>
    /// --bridge-from &gt; DFBROKER_BRIDGE_FROM (the other cluster's schedulers), --bridge-to &gt; DFBROKER_BRIDGE_TO
    /// (this cluster's, as its agents name them): HOST[:PORT],… each; empty when not given.
    /// </summary>
    private static IReadOnlyList<string> BrokerList(string? flag, string flagName, string variable, Func<string, string?> environment)
    {
        var (source, text) = flag is not null ? (flagName, flag) : (variable, Env(environment, variable));
        return text is null
            ? []
            : Agent.Configuration.HostPort.ParseList(text, BrokerOptions.DefaultGrpcPort, source).Select(Agent.Configuration.HostPort.Name).ToList();
    }
}
