namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

public static class Sizes
{
    public const long MiB = 1024 * 1024;
}
