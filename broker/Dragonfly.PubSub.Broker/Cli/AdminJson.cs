using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>JSON options for the small admin request bodies (a dictionary of strings, numbers and string lists).</summary>
internal static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
}
