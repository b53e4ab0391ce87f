using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>The revocation list's JSON: an array of peer ids.</summary>
[JsonSerializable(typeof(string[]))]
internal sealed partial class RevocationJsonContext : JsonSerializerContext;
