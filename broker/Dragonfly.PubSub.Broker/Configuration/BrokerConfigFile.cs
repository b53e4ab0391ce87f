using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>The JSON config file; every field is optional.</summary>
public sealed record BrokerConfigFile
{
    public string? DataDir { get; init; }
    public string? Listen { get; init; }
    public int? MqttPort { get; init; }
    public int? GrpcPort { get; init; }
    public int? HttpPort { get; init; }
    public int? MaxParents { get; init; }

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
        BrokerConfigFile? config;
        try
        {
            config = JsonSerializer.Deserialize(text, BrokerConfigJsonContext.Default.BrokerConfigFile);
        }
        catch (JsonException e)
        {
            return (null, [$"config file '{path}' is not valid: {e.Message}"]);
        }
        if (config is null)
        {
            return (null, [$"config file '{path}' holds JSON null; write an object such as {{\"mqttPort\": 1883}}"]);
        }
        return (config, config.Validate());
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
        if (MaxParents is < 1 or > 64)
        {
            problems.Add($"maxParents: {MaxParents} is out of range; use 1 to 64");
        }
        if (DataDir is not null && string.IsNullOrWhiteSpace(DataDir))
        {
            problems.Add("dataDir: is empty; give a directory or leave it out");
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

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(BrokerConfigFile))]
internal sealed partial class BrokerConfigJsonContext : JsonSerializerContext;
