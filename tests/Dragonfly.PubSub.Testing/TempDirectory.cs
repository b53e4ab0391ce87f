namespace Dragonfly.PubSub.Testing;

public static class TempDirectory
{
    /// <summary>Deletes a test's temp dir; one still in use (a log being written) is left behind, harmless.</summary>
    public static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
