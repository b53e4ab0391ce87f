using System.Text.Json;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>The JSON config file; every field is optional.</summary>
public sealed record BrokerConfigFile
{
    public string? DataDir { get; init; }
    public string? Listen { get; init; }
    public int? MqttPort { get; init; }

    /// <summary>An external MQTT 5 broker for announcements (mqtt[s]://HOST:PORT); the embedded server by default.</summary>
    public string? MqttUrl { get; init; }

    /// <summary>Shared state of several brokers: redis://HOST:PORT[,HOST:PORT] or redis-sentinel://HOST:PORT[,HOST:PORT]/SERVICE.</summary>
    public string? State { get; init; }
    public int? GrpcPort { get; init; }
    public int? HttpPort { get; init; }
    public int? MaxParents { get; init; }
    public int? AnnounceManifestMax { get; init; }
    public bool? Seed { get; init; }
    public int? SeedPort { get; init; }

    /// <summary>The seed's upload cap as a rate per second (e.g. "11MiB"); unlimited by default.</summary>
    public string? SeedUploadLimit { get; init; }
    public string? S3Endpoint { get; init; }
    public string? S3Region { get; init; }
    public string? S3AccessKey { get; init; }
    public string? S3SecretKey { get; init; }

    /// <summary>Directories under which file:// URL tasks are allowed (absolute paths); none by default.</summary>
    public IReadOnlyList<string>? FileOriginRoots { get; init; }

    /// <summary>Internal origins the broker's seed may fetch from (host names, IP addresses, CIDRs); none by default.</summary>
    public IReadOnlyList<string>? AllowOrigins { get; init; }

    public IReadOnlyList<string>? S3Buckets { get; init; }

    public int? MqttsPort { get; init; }
    public bool? Insecure { get; init; }
    public string? TlsCa { get; init; }
    public string? TlsCaKey { get; init; }
    public string? TlsCert { get; init; }
    public string? TlsKey { get; init; }
    public IReadOnlyList<string>? TlsSans { get; init; }
    public string? CertTtl { get; init; }
    public string? TlsCiphers { get; init; }

    /// <summary>Logins for container registries by <c>host[:port]</c> (preheat).</summary>
    public IReadOnlyDictionary<string, RegistryLogin>? Registries { get; init; }

    /// <summary>Reads and checks a config file; problems are one line each (empty when it is fine).</summary>
    public static (BrokerConfigFile? Config, IReadOnlyList<string> Problems) Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, [$"cannot read config file '{path}': {e.Message}"]);
        }
        // Parsed by hand so that every problem (unknown key, wrong type, bad value) is one line of its own.
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            return (null, [$"config file '{path}' is not valid JSON: {e.Message}"]);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, [$"config file '{path}' must hold a JSON object such as {{\"mqttPort\": 1883}}"]);
            }
            var problems = new List<string>();
            var config = new BrokerConfigFile();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var value = property.Value;
                switch (property.Name.ToLowerInvariant())
                {
                    case "datadir":
                        config = config with { DataDir = String(property, problems) };
                        break;
                    case "listen":
                        config = config with { Listen = String(property, problems) };
                        break;
                    case "mqttport":
                        config = config with { MqttPort = Int(property, problems) };
                        break;
                    case "mqtturl":
                        config = config with { MqttUrl = String(property, problems) };
                        if (config.MqttUrl is { } mqttUrl && Dragonfly.PubSub.Contracts.MqttUrl.TryParse(mqttUrl, out var mqttUrlError) is null)
                        {
                            problems.Add($"mqttUrl: {mqttUrlError}");
                        }
                        break;
                    case "state":
                        config = config with { State = String(property, problems) };
                        if (config.State is { } state && Broker.State.StateUrl.TryParse(state, out var stateError) is null)
                        {
                            problems.Add($"state: {stateError}");
                        }
                        break;
                    case "grpcport":
                        config = config with { GrpcPort = Int(property, problems) };
                        break;
                    case "httpport":
                        config = config with { HttpPort = Int(property, problems) };
                        break;
                    case "maxparents":
                        config = config with { MaxParents = Int(property, problems) };
                        break;
                    case "announcemanifestmax":
                        config = config with { AnnounceManifestMax = Int(property, problems) };
                        break;
                    case "seed":
                        config = config with { Seed = Bool(property, problems) };
                        break;
                    case "seedport":
                        config = config with { SeedPort = Int(property, problems) };
                        break;
                    case "seeduploadlimit":
                        config = config with { SeedUploadLimit = String(property, problems) };
                        break;
                    case "s3endpoint":
                        config = config with { S3Endpoint = String(property, problems) };
                        break;
                    case "s3region":
                        config = config with { S3Region = String(property, problems) };
                        break;
                    case "s3accesskey":
                        config = config with { S3AccessKey = String(property, problems) };
                        break;
                    case "s3secretkey":
                        config = config with { S3SecretKey = String(property, problems) };
                        break;
                    case "fileoriginroots":
                        config = config with { FileOriginRoots = StringArray(property, problems) };
                        break;
                    case "s3buckets":
                        config = config with { S3Buckets = StringArray(property, problems) };
                        break;
                    case "alloworigins":
                        config = config with { AllowOrigins = StringArray(property, problems) };
                        break;
                    case "mqttsport":
                        config = config with { MqttsPort = Int(property, problems) };
                        break;
                    case "insecure":
                        config = config with { Insecure = Bool(property, problems) };
                        break;
                    case "tlsca":
                        config = config with { TlsCa = String(property, problems) };
                        break;
                    case "tlscakey":
                        config = config with { TlsCaKey = String(property, problems) };
                        break;
                    case "tlscert":
                        config = config with { TlsCert = String(property, problems) };
                        break;
                    case "tlskey":
                        config = config with { TlsKey = String(property, problems) };
                        break;
                    case "tlssans":
                        config = config with { TlsSans = StringArray(property, problems) };
                        break;
                    case "certttl":
                        config = config with { CertTtl = String(property, problems) };
                        break;
                    case "tlsciphers":
                        config = config with { TlsCiphers = String(property, problems) };
                        break;
                    case "registries":
                        config = config with { Registries = Logins(property, problems) };
                        break;
                    default:
                        problems.Add($"{property.Name}: unknown setting; known are {string.Join(", ", KnownKeys)}");
                        break;
                }
            }
            problems.AddRange(config.Validate());
            return (config, problems);
        }
    }

    public static readonly IReadOnlyList<string> KnownKeys =
        ["dataDir", "listen", "mqttPort", "grpcPort", "httpPort", "maxParents", "announceManifestMax", "seed", "seedPort", "seedUploadLimit", "s3Endpoint", "s3Region", "s3AccessKey", "s3SecretKey",
         "fileOriginRoots", "s3Buckets", "allowOrigins", "registries", "mqttsPort", "insecure", "tlsCa", "tlsCaKey", "tlsCert", "tlsKey", "tlsSans", "certTtl", "tlsCiphers"];

    private static List<string>? StringArray(JsonProperty property, List<string> problems)
    {
        if (property.Value.ValueKind != JsonValueKind.Array || property.Value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            problems.Add($"{property.Name}: must be an array of strings, e.g. [\"/srv/files\"]");
            return null;
        }
        return [.. property.Value.EnumerateArray().Select(e => e.GetString()!)];
    }

    private static Dictionary<string, RegistryLogin>? Logins(JsonProperty property, List<string> problems)
    {
        const string Example = "{\"registry.example.com:5000\": {\"username\": \"...\", \"password\": \"...\"}}";
        if (property.Value.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{property.Name}: must be an object such as {Example}");
            return null;
        }
        var logins = new Dictionary<string, RegistryLogin>(StringComparer.OrdinalIgnoreCase);
        foreach (var registry in property.Value.EnumerateObject())
        {
            var where = $"{property.Name}.{registry.Name}";
            if (!ImageReference.IsValidRegistry(registry.Name))
            {
                problems.Add($"{where}: '{registry.Name}' is not a registry host[:port] as image references name it");
                continue;
            }
            if (registry.Value.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"{where}: must be an object with username and password");
                continue;
            }
            string? username = null, password = null;
            foreach (var field in registry.Value.EnumerateObject())
            {
                var text = field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString() : null;
                switch (field.Name.ToLowerInvariant())
                {
                    case "username":
                        username = text;
                        break;
                    case "password":
                        password = text;
                        break;
                    default:
                        problems.Add($"{where}.{field.Name}: unknown setting; known are username, password");
                        continue;
                }
                if (text is null)
                {
                    problems.Add($"{where}.{field.Name}: must be a string"); // the value may be a secret: not shown
                }
            }
            if (string.IsNullOrEmpty(username) || password is null)
            {
                problems.Add($"{where}: give both username (not empty) and password");
                continue;
            }
            logins[registry.Name] = new RegistryLogin(username, password);
        }
        return logins;
    }

    private static string? String(JsonProperty property, List<string> problems)
    {
        if (property.Value.ValueKind == JsonValueKind.String)
        {
            return property.Value.GetString();
        }
        problems.Add($"{property.Name}: must be a string");
        return null;
    }

    private static bool? Bool(JsonProperty property, List<string> problems)
    {
        if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return property.Value.GetBoolean();
        }
        problems.Add($"{property.Name}: must be true or false");
        return null;
    }

    private static int? Int(JsonProperty property, List<string> problems)
    {
        if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var number))
        {
            return number;
        }
        problems.Add($"{property.Name}: must be a whole number");
        return null;
    }

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Listen is not null && BrokerOptionsResolver.ParseListen(Listen) is null)
        {
            problems.Add($"listen: '{Listen}' is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1");
        }
        CheckPort("mqttPort", MqttPort, problems);
        CheckPort("grpcPort", GrpcPort, problems);
        CheckPort("httpPort", HttpPort, problems);
        CheckPort("seedPort", SeedPort, problems);
        CheckPort("mqttsPort", MqttsPort, problems);
        if (SeedUploadLimit is not null && !Dragonfly.PubSub.Contracts.ByteSize.TryParse(SeedUploadLimit, out _))
        {
            problems.Add(Dragonfly.PubSub.Contracts.ByteSize.NotARate("seedUploadLimit:", SeedUploadLimit));
        }
        problems.AddRange(BrokerTlsResolver.Problems(
            "tlsCa", TlsCa, "tlsCaKey", TlsCaKey, "tlsCert", TlsCert, "tlsKey", TlsKey, "tlsSans", TlsSans ?? [], "certTtl", CertTtl, "tlsCiphers", TlsCiphers, Insecure == true));
        if (S3Endpoint is not null
            && (!Uri.TryCreate(S3Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            problems.Add($"s3Endpoint: '{S3Endpoint}' is not an http:// or https:// URL; give e.g. http://127.0.0.1:9000");
        }
        if (S3Region is not null && string.IsNullOrWhiteSpace(S3Region))
        {
            problems.Add("s3Region: is empty; give a region such as us-east-1 or leave it out");
        }
        if ((S3AccessKey is null) != (S3SecretKey is null))
        {
            problems.Add("s3AccessKey and s3SecretKey: give both or neither");
        }
        if (MaxParents is < 1 or > 64)
        {
            problems.Add($"maxParents: {MaxParents} is out of range; use 1 to 64");
        }
        if (AnnounceManifestMax is < 0 or > Contracts.Announcement.MaxInlineManifest)
        {
            problems.Add($"announceManifestMax: {AnnounceManifestMax} is out of range; use 0 (never) to {Contracts.Announcement.MaxInlineManifest} bytes");
        }
        if (DataDir is not null && string.IsNullOrWhiteSpace(DataDir))
        {
            problems.Add("dataDir: is empty; give a directory or leave it out");
        }
        foreach (var root in FileOriginRoots ?? [])
        {
            if (string.IsNullOrWhiteSpace(root) || !Path.IsPathRooted(root))
            {
                problems.Add($"fileOriginRoots: '{root}' is not an absolute directory path");
            }
        }
        foreach (var bucket in S3Buckets ?? [])
        {
            if (UrlTasks.S3BucketPolicy.Validate(bucket) is { } problem)
            {
                problems.Add($"s3Buckets: {problem}");
            }
        }
        foreach (var origin in AllowOrigins ?? [])
        {
            if (Dragonfly.PubSub.Origins.EgressPolicy.ParseAllowance(origin) is { } problem)
            {
                problems.Add($"allowOrigins: {problem.Replace("--allow-origin", "", StringComparison.Ordinal).Trim(' ', ':')}");
            }
        }
        return problems;
    }

    private static void CheckPort(string name, int? port, List<string> problems)
    {
        if (port is < 0 or > 65535)
        {
            problems.Add($"{name}: {port} is not a port; use 0 (pick a free one) to 65535");
        }
    }
}
