namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// User topics (<c>releases/app</c>) and topic filters (<c>releases/#</c>), and their MQTT form
/// under <see cref="AnnouncePrefix"/>.
/// </summary>
public static class TopicName
{
    public const string AnnouncePrefix = "dragonfly/announce/";
    public const int MaxLength = 512;

    /// <summary>Null when <paramref name="topic"/> can be published to; otherwise what is wrong with it.</summary>
    public static string? ValidateTopic(string? topic)
    {
        var common = ValidateCommon(topic, "topic");
        if (common is not null)
        {
            return common;
        }
        if (topic!.Contains('+') || topic.Contains('#'))
        {
            return $"topic '{topic}' contains a wildcard (+ or #); publish to a concrete topic such as releases/app";
        }
        return null;
    }

    /// <summary>Null when <paramref name="filter"/> is a valid MQTT topic filter over user topics.</summary>
    public static string? ValidateFilter(string? filter)
    {
        var common = ValidateCommon(filter, "topic filter");
        if (common is not null)
        {
            return common;
        }
        var levels = filter!.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Contains('#') && (level != "#" || i != levels.Length - 1))
            {
                return $"topic filter '{filter}' uses # other than as the whole last level; write e.g. releases/#";
            }
            if (level.Contains('+') && level != "+")
            {
                return $"topic filter '{filter}' uses + inside a level; + must stand alone, e.g. releases/+/stable";
            }
        }
        return null;
    }

    public static string ToMqttTopic(string topicOrFilter) => AnnouncePrefix + topicOrFilter;

    /// <summary>The user topic of an MQTT announcement topic, or null when it is not one.</summary>
    public static string? FromMqttTopic(string mqttTopic) =>
        mqttTopic.StartsWith(AnnouncePrefix, StringComparison.Ordinal) && mqttTopic.Length > AnnouncePrefix.Length
            ? mqttTopic[AnnouncePrefix.Length..]
            : null;

    private static string? ValidateCommon(string? value, string what)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return $"the {what} is empty; give one such as releases/app";
        }
        if (value.Length > MaxLength)
        {
            return $"the {what} is longer than {MaxLength} characters";
        }
        if (value.StartsWith('/') || value.EndsWith('/') || value.Contains("//", StringComparison.Ordinal))
        {
            return $"{what} '{value}' has an empty level; use levels separated by single slashes, e.g. releases/app";
        }
        if (value.StartsWith('$'))
        {
            return $"{what} '{value}' starts with $, which MQTT reserves for the broker";
        }
        if (value.Any(char.IsControl) || value.Contains('\\'))
        {
            return $"{what} contains a control character or a backslash";
        }
        // Topics become folders under the output directory: no level may climb out of it.
        if (value.Split('/').Any(level => level is "." or ".."))
        {
            return $"{what} '{value}' has a . or .. level; topics become folders and may not climb out of the output directory";
        }
        return null;
    }
}
