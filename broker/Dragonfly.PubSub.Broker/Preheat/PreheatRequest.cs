using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// A checked <c>POST /api/v1/preheat</c> body <c>{"image": "...", "platforms": ["linux/arm64"] | ["all"], "topic": "..."}</c>.
/// A platform is required: the broker never picks its own.
/// </summary>
public sealed record PreheatRequest(ImageReference Image, PlatformSelector Platforms, string Topic)
{
    private const string Shape = "expected {\"image\": \"registry/repo:tag\", \"platforms\": [\"linux/arm64\"] or [\"all\"], \"topic\": \"...\"}";

    /// <summary>The request, or the one line that says what is wrong with it.</summary>
    public static PreheatRequest? Parse(JsonElement body, out string? error)
    {
        error = null;
        if (body.ValueKind != JsonValueKind.Object)
        {
            error = $"the body is not a JSON object; {Shape}";
            return null;
        }
        string? image = null, topic = null;
        List<string>? platforms = null;
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "image":
                    image = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                    if (image is null)
                    {
                        error = "image must be a string such as 127.0.0.1:5000/app:v1";
                    }
                    break;
                case "topic":
                    topic = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                    if (topic is null)
                    {
                        error = "topic must be a string such as images/app";
                    }
                    break;
                case "platforms":
                    platforms = property.Value.ValueKind switch
                    {
                        JsonValueKind.String => [property.Value.GetString()!],
                        JsonValueKind.Array when property.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                            [.. property.Value.EnumerateArray().Select(e => e.GetString()!)],
                        _ => null,
                    };
                    if (platforms is null)
                    {
                        error = "platforms must be an array of strings such as [\"linux/arm64\"] or [\"all\"]";
                    }
                    break;
                default:
                    error = $"unknown field '{property.Name}'; {Shape}";
                    break;
            }
            if (error is not null)
            {
                return null;
            }
        }
        if (string.IsNullOrWhiteSpace(image))
        {
            error = $"image is required; {Shape}";
            return null;
        }
        if (!ImageReference.TryParse(image.Trim(), out var reference, out var referenceError))
        {
            error = referenceError;
            return null;
        }
        if (platforms is null || platforms.All(string.IsNullOrWhiteSpace))
        {
            error = "platforms is required: [\"os/arch\", ...] or [\"all\"]; a preheat never picks the broker's own platform";
            return null;
        }
        PlatformSelector selector;
        try
        {
            selector = PlatformSelector.Parse(platforms);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            error = e.Message.Replace("--platform ", "platforms ", StringComparison.Ordinal);
            return null;
        }
        if (string.IsNullOrEmpty(topic))
        {
            error = "topic is required: the agents subscribed to it prefetch the image's blobs";
            return null;
        }
        if (TopicName.ValidateTopic(topic) is { } topicError)
        {
            error = topicError;
            return null;
        }
        return new PreheatRequest(reference, selector, topic);
    }
}
