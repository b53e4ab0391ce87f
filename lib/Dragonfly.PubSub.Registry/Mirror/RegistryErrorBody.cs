using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>The distribution spec's error body: <c>{"errors":[{"code":"...","message":"..."}]}</c>.</summary>
internal sealed record RegistryErrorBody(IReadOnlyList<RegistryError> Errors);

/// <summary>One entry of <see cref="RegistryErrorBody"/>.</summary>
internal sealed record RegistryError(string Code, string Message);

/// <summary>Source-generated JSON for what the mirror writes itself (dfagent is published as Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RegistryErrorBody))]
internal sealed partial class MirrorJsonContext : JsonSerializerContext;
