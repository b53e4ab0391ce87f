namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The name an artifact lands under (<c>&lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;</c>): a single
/// file name, so that no announcement can write outside the output directory.
/// </summary>
public static class ArtifactName
{
    public const int MaxLength = 255;

    /// <summary>Null when valid; otherwise what is wrong with it.</summary>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "the name is empty";
        }
        if (name.Length > MaxLength)
        {
            return $"the name is longer than {MaxLength} characters";
        }
        if (name is "." or ".." || name.Contains('/') || name.Contains('\\'))
        {
            return $"name '{name}' is a path, not a file name; give a plain name such as app.tar";
        }
        if (name.Any(char.IsControl))
        {
            return "the name contains a control character";
        }
        return null;
    }
}
