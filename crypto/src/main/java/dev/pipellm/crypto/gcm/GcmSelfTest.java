package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The start-up check an engine must pass before it is used (see {@link GcmEngineSelector}).
 *
 * <p>Four parts: (1) known answers: NIST SP 800-38D test cases 13 and 14 (AES-256, from the GCM specification's
 * appendix) and five AES-256 vectors from Project Wycheproof {@code aes_gcm_test.json} (Apache 2.0), including
 * AAD, a non-block length and a flipped tag bit that must be rejected; (2) refusals: a 16-byte IV and a short tag
 * buffer must be refused, not computed; (3) size known answers ({@link #SIZE_KATS}): for every size 0..80 and
 * the sizes around each power of two from 128 to 1 MiB, plus 2 MiB + 1, the SHA-256 of (ciphertext || tag) of a
 * fixed key, IV and plaintext pattern, precomputed with OpenSSL, so they do not depend on the JDK under test
 * (JDK-8371864: some JDK 25 builds' AES-GCM intrinsics wrote wrong ciphertext for certain payload sizes; a check
 * against another SunJCE cipher would share such a bug), through the heap and the segment paths, each result also
 * decrypted; (4) a cross-check of random messages (heap and off-heap, sizes that cross the 64 KiB chunk and 1 MiB
 * split boundaries) against a plain one-shot SunJCE {@link Cipher}, plus decryption of each result and rejection
 * of a corrupted one.
 *
 * <p>{@link #runStreaming} checks a {@link StreamingGcm} against the same size known answers, in both directions
 * and with several splits of each message into updates.
 *
 * <p><b>TEST ONLY:</b> the system property {@value #FORCE_FAIL_PROPERTY} makes the checks report a failure without
 * running, so that callers can test what they do when a self-test fails: {@code 1} (or {@code all}) fails both
 * {@link #run} and {@link #runStreaming}, {@code engine} only {@link #run}, {@code streaming} only
 * {@link #runStreaming}. It is read on every call. Never set it in production.
 *
 * <p><b>Run it warm.</b> On a cold JVM SunJCE's GCM runs its Java fallback: the AVX2/AVX-512 stubs, where
 * JDK-8371864 was, are used only once C2 has compiled their callers. A self-test run before the warm-up therefore
 * checks the wrong code (and takes ~1 s instead of ~0.2 s for {@link #run}); {@link GcmEngineSelector} warms the
 * JDK engine up first, and callers of {@link #runStreaming} should run it after {@link StreamingGcm#warmUp}.
 *
 * <p>Runs once per engine at selection; allocates freely.
 */
public final class GcmSelfTest {

    /** A known-answer vector; {@code valid == false} means decryption must report a tag mismatch. */
    record Kat(String id, String key, String iv, String aad, String msg, String ct, String tag, boolean valid) {
    }

    static final List<Kat> KATS = List.of(
            new Kat("nist-gcm-tc13", "00".repeat(32), "00".repeat(12), "", "", "",
                    "530f8afbc74536b9a963b4f1c4cb738b", true),
            new Kat("nist-gcm-tc14", "00".repeat(32), "00".repeat(12), "", "00".repeat(16),
                    "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919", true),
            new Kat("wycheproof-tc91", "92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20", "00112233445566778899aabb", "00000000ffffffff", "00010203040506070809", "e27abdd2d2a53d2f136b", "9a4a2579529301bcfb71c78d4060f52c", true),
            new Kat("wycheproof-tc100", "b279f57e19c8f53f2f963f5f2519fdb7c1779be2ca2b3ae8e1128b7d6c627fc4", "98bc2c7438d5cd7665d76f6e", "c0", "fcc515b294408c8645c9183e3f4ecee5127846d1", "eb5500e3825952866d911253f8de860c00831c81", "ecb660e1fb0541ec41e8d68a64141b3a", true),
            new Kat("wycheproof-tc104", "6efca98126918ab564d88c6bec02e8998b2be50e3f906ff9adfdd185f373e756", "4abd6cfc83bd06b11efaa2a7", "", "bbec79c086d41e602d090f7e40494d6bf3faa1dc6df0ab8a88ea5d35d426b248c2ad880351e223f6170d37cc9655e10459e59cbd6d1c092ed31d72ccc7af20", "97b4c73a4d8b5b21bc4b50dbb70dfa77b1a7bf0bbe7cf16ecf5bb60ba8070acc5740780435ed145a62a613dd9881b721168fbb3f5af385ee5d4f856cf93cba", "27ac8c4010d8e81b7051ceb06b30fe2d", true),
            new Kat("wycheproof-tc128", "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f", "000000000000000000000000", "", "561008fa07a68f5c61285cd013464eaf", "23293e9b07ca7d1b0cae7cc489a973b3", "ffffffffffffffffffffffffffffffff", true),
            new Kat("wycheproof-tc130", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "505152535455565758595a5b", "", "202122232425262728292a2b2c2d2e2f", "b2061457c0759fc1749f174ee1ccadfa", "9de8fef6d8ab1bf1bf887232eab590dd", false));

    /** TEST ONLY: {@code 1}/{@code all}, {@code engine} or {@code streaming} forces a self-test failure. */
    public static final String FORCE_FAIL_PROPERTY = "pipellm.crypto.selftest.fail";

    /** A size known answer: SHA-256 of (ciphertext || tag) for the first {@code size} bytes of the pattern. */
    record SizeKat(int size, String sha256) {
    }

    /**
     * Size known answers, AES-256-GCM with key {@link #sizeKatKey()}, IV {@link #sizeKatIv()}, no AAD, plaintext
     * {@link #sizeKatPlaintext(int)}: SHA-256 of (ciphertext || 16-byte tag), hex.
     *
     * <p>Produced with OpenSSL 3.0.19 (libcrypto, EVP_EncryptInit_ex/EncryptUpdate/EncryptFinal_ex/GET_TAG and
     * EVP_Digest SHA-256) by a throwaway C program run at development time; that program is not part of the
     * build. {@code GcmSelfTestTest} recomputes every value with the real OpenSSL through FFM, so a wrong value
     * cannot survive the test suite.
     */
    static final List<SizeKat> SIZE_KATS = List.of(
            new SizeKat(0, "5bb666d2b4926aab23d32794e5fe496e81a38b619896bc1a6d92b019b2b6a637"),
            new SizeKat(1, "7aa13240afa25dceefd7836087c068ea4ab80d4f222d54caeac73e2eab5e32ee"),
            new SizeKat(2, "9712102686923f600fb08df3bb16c6b2fdaa38e21c932a8b6fad0e50c0298024"),
            new SizeKat(3, "ae4f451939467660efae17a4c2875214f5ed6bce26564b4251ad4cff79ed0948"),
            new SizeKat(4, "008e72d4f759a20b96f38104d8dcb0e13eda01a02829a4950320a755b6423644"),
            new SizeKat(5, "a17d862f8bb590f5bbd2a2cbe924e637cdbb105d00b1357133fd7cd13f051e80"),
            new SizeKat(6, "b1586fc418174d68731ff5e9dccc1828a99ad78dd83298e197fe2f5849e97d5e"),
            new SizeKat(7, "b85bd5fc705ba02b6c2332e074b1d03b9b9904c66c3b270048be9989e6bfa523"),
            new SizeKat(8, "50599063afbc3aacf7b46a2f5bf4fdc95379d7fbb446ea986699be3827b6c84a"),
            new SizeKat(9, "25f0f1ca068de28530a37b6314f8e638e43f382f8af7c64db5720febb0f9b47d"),
            new SizeKat(10, "3328950d53a079ef361a26481d0e2b2ba191d9b333d5cb69b4a80615282d5cdd"),
            new SizeKat(11, "d82dc2a333e778ebf054e1c3cf225668d8bfbbd23a7ad76df0c9c58c380c8170"),
            new SizeKat(12, "cbc2dcfe81e59a22da5a5f5e450d97f5186e6d51ef39b83399f15e62d894b549"),
            new SizeKat(13, "64490b7b735cdf0396c4d5f9454e8a39cbac29ea9c61f413ff794b8854b01f30"),
            new SizeKat(14, "3afa17878c7027425e60b62ea928f6d36b53eaeb1aff64f54b96b652d0506e96"),
            new SizeKat(15, "07ab644653268987b00144e262f32ccdd8aa3841a914da2ceeaa17caf515d169"),
            new SizeKat(16, "84aeb4f72876e788a44c9ab83d8d49d536fd70e72d720a2063374f61149c15a4"),
            new SizeKat(17, "71b7142a0cc863b47fa949c55fc1af4d9037718b7585cc9b4d3d215a25d88993"),
            new SizeKat(18, "cd7b68d593db367f87f0448aaacb6e64a2181b18cd3f0aeb528f078237ec2957"),
            new SizeKat(19, "947a954c25a6c8d965616d2e46e1961790725df3fbbf162e9941cd4f31f7c502"),
            new SizeKat(20, "3fd8c6a426e34a3420a0a59c395ce3e41eedeecda90baf779d15257b14595c4e"),
            new SizeKat(21, "310c34ecba71226e0cc38d5a33e42bdc79fd2ec56507d82f1514b9a4c9dc7513"),
            new SizeKat(22, "bf498cf6744bc00b30b6e6a05a80841ab2d89963dc58b7ea9b32c89c334a9adc"),
            new SizeKat(23, "2a49fbc06b9d8ec2272675bcd590c052b6ef1ca265886637bbea3d2233a6a4c5"),
            new SizeKat(24, "fb33ee55c5ec69a8b313546d073d740f4e73a35b5a7b80fd4eadf6d100a9e3b8"),
            new SizeKat(25, "82853590d6635d493d5cdc399584a4ce561afd8ed7752f2dc353b53025bbe108"),
            new SizeKat(26, "f9cd72af786538ffdbf4b887b70c127f3fe5db9e00a7f40247356728558c2354"),
            new SizeKat(27, "a169486885df7d1171840cfbc17535e8fd428bf8628d2acc906793524a74b3f2"),
            new SizeKat(28, "a12f5a9babf0a62e03da57bab1277cc41e6b98c097dd982b057bae64acecc984"),
            new SizeKat(29, "9391057d5b04c98765a0791d000c12cce1fb4829d4a0c804c5c3eb12b425846c"),
            new SizeKat(30, "d43b8df0d5016023bc579b695da3aece9e8574bcce2d09e85cca7a5addbf70f4"),
            new SizeKat(31, "45a86c095ae3532075789ee992cbfde4ceb13054705d4253580949ecfd451214"),
            new SizeKat(32, "2a45cfc3cb7c7cc100ee3b28edcc0f2ef01ea275b810d459a69cad86d90e5a55"),
            new SizeKat(33, "6b3c14c160d9a0d1beecad5b37cafe3c4ac1a75555f926e9357e38e6ae44c35d"),
            new SizeKat(34, "feca42f5a29ebf6a7d6d6951c27cd014a238634b0941df596e1d4d467bdffe95"),
            new SizeKat(35, "8adfd3e3dbe1d69b74078d41d0df66fd0477af8b0e5480ab69c166a87b464ecb"),
            new SizeKat(36, "d012507b2c14e99c4b6b689abfa7611a111f0ba0829eec31a3e77f224583bd83"),
            new SizeKat(37, "1fa73d6737dacdf81928e5a19b48e29bec560da96f7f894156fdb586a4569739"),
            new SizeKat(38, "457ac6b507890bd8b97b64517fde5adef18442591ec9e67a0dd168c1e9c0a1b3"),
            new SizeKat(39, "795059e063bceb0355950d88125229eadcc7bbd321c5d0f97dcdaf556365dccc"),
            new SizeKat(40, "7bc07a56ae8b35449f69a3f4eb7845bccd603b756bc41d6e7461315e3b583700"),
            new SizeKat(41, "12a8e5d675094946224a1d55589e0314e814c6877a8c5407ccbce12279ec5568"),
            new SizeKat(42, "45f1bdc5ce086596f65550431faca31b5f3cfb7d338df4c6e7d404e32941205c"),
            new SizeKat(43, "9fab2cf5b01bc97ad78835436fad525e085ed86f896b3fc9a2cd552583a3cec4"),
            new SizeKat(44, "69f8e9e033ea019184b9ecb07b9226e1a7301ba67d437cf2f8104b4ffb2c3ce7"),
            new SizeKat(45, "a7ad968a51280465fe33f5cec3f62d79ff92b4e9ce03a7f53782ab6e94e39073"),
            new SizeKat(46, "65b0e34a6b5c912931d9327f6de66f8e393d8b89810335e03f9aacc664dcd964"),
            new SizeKat(47, "84b36531e4135ae0fd27710523ffb0f6eacd94fe90364633e9f3d392c5618a5b"),
            new SizeKat(48, "f8c42a4b6619769a1648b9066c4bc0d7ae61820f16e533a75b176141a4bae87f"),
            new SizeKat(49, "6221609949a51ab5f1b950855a456ead146053b2189bafae0fab4c42a74a6372"),
            new SizeKat(50, "dca4f9248626eab63e6ec441d564c6bd8f5219a96cd2e7604a8a45e5f5c37421"),
            new SizeKat(51, "fb254344ccee270434adda9fb7130d46b170f1c9ddf74ae0ea616beabfcc4761"),
            new SizeKat(52, "1f7090eb4b0147505edc0fe0d7e0919cbc164d9ec438b8d9feccb7cbb1f6d2d4"),
            new SizeKat(53, "166d527bb7a3b2ac3b229272911c10c2e385a8fc4c47a757db6b2373078a67e9"),
            new SizeKat(54, "8bfd4ad452271bdc38847209e14fe7fea6f46fd7799b730f03e53910c303458b"),
            new SizeKat(55, "05fcaef8d320456039a2aa9bdfecee097df4006953e4834699d6bf1161b48555"),
            new SizeKat(56, "938b2ff68328acbdabcc2c7eec467e678fde7b4cbd087b68dca24ff07bfcec34"),
            new SizeKat(57, "dc5119a88399310a46ef52fbf41751452ce42af03a6c08368e9e59a2691a591c"),
            new SizeKat(58, "020536e58510ea7f5b1917bedf47b3eeff4621147c5e68b033f6f9a1c5cef782"),
            new SizeKat(59, "1eea2513613d3d9451add965537033e755fa3b8e8efa1438719375d4756078ef"),
            new SizeKat(60, "c94d5a180555955b1a592a993f09711ee6b637f1b8f3f24b791b8600b7812a98"),
            new SizeKat(61, "c4a2ccf9f4f4d466f6d51e18b64afee643efc6a4cd6246b196ec86be1d0b2f59"),
            new SizeKat(62, "be6b5674ee7af355ff5880d28101247e6a5012e6c942f3322b58e104252273e6"),
            new SizeKat(63, "fb673218e18106ff03ca7b792911fb1407bb914ce72c1f3f0db50f941fce31de"),
            new SizeKat(64, "f2266a8ead6b9786b4e403aefd2d2a699877c3c334fa2cbcdc1209e7ae8c88cb"),
            new SizeKat(65, "0a561dac7957c1b69301425f594638a7068f03312e34d1b1264a982be5d841d0"),
            new SizeKat(66, "707a79065dcee036db8ddfde77d0ab41a4939a870ec55dbf8fe013c272bac91e"),
            new SizeKat(67, "1a7864c38ff699bbd69a48f85ec4c16932d6b5e33ca44ea2a068f4638bb98710"),
            new SizeKat(68, "72532fcbe1d44ac29b217744e9bc5daae2e963b75ce0fe516dacb8ec3d068f70"),
            new SizeKat(69, "4d73e0ad429d22922d37733ff5488301502276191e99c40e9e8362f5c91e14a8"),
            new SizeKat(70, "6280f17b1327f5570a808b574e4f6a177c4197a6e370c60ec509a500388a14a8"),
            new SizeKat(71, "5e49cf5d8a0615027c0747f2d2f5b9d16f902896266ffcd8297a3403954cf491"),
            new SizeKat(72, "c2cc6b9364922d587d01c57d3b68037b9bc206dca0bda69f6e29888a97ecddcf"),
            new SizeKat(73, "de69de8c45f7409a38c966c0192f7331f5aabe8cb1a8384859cb0a610ffc7380"),
            new SizeKat(74, "670325e361a68310a377dbcea41d708b6b80c2bf1284ccc56b9e761a25647df8"),
            new SizeKat(75, "a44a0d26486c761f6bf010c0a2b9e14241831901779071a7f7ac649ac0643da4"),
            new SizeKat(76, "5758df48712b53c5b8396217a81f27a12d0197d098359ea1f308cf42405e2c5f"),
            new SizeKat(77, "e6e6e0764c25b3ab97220d4f090f39a6a0efa659f5326f29700b1f64e4190c17"),
            new SizeKat(78, "f77518828e3130fa1b3734366f3c16b488c73b0d3cb469afcc0368c13b6852ef"),
            new SizeKat(79, "5f95a2815e5e2c275517cb5078852e3f2b219dd509a91ff5e298ef9d10403050"),
            new SizeKat(80, "fec390c9b5ab489bd22b4c75c49ef025ddf330a59cb2dece941b17889f56605d"),
            new SizeKat(127, "2ec8831a406fb0c8ff5180fd83b01d3f5d5ad5cb3832ece296c782c10e540a67"),
            new SizeKat(128, "ac2c99685e78f03f6ea10451a33c56f169f83a91af0125154dcc7d93d993e90d"),
            new SizeKat(129, "0030e256bdd17e866bcbc4bc155015bd282ab4ab8a3e7576f2f8790eb5d23128"),
            new SizeKat(255, "79b2ad6cd43888ceaae06340e5a5710361318971dd409636b2c03942831a9b9d"),
            new SizeKat(256, "ad5fc53dc673a5586dbaf953973b839004344f3dcd1dcbd778fb1b5a41bff916"),
            new SizeKat(257, "9ad3cd90ead06c8533b5c59ae18036d3c2c3f1afba956ddaa4e794ac4657c733"),
            new SizeKat(511, "b05a6f1ce84ea8028012eef308634574b52c065439388e5e634848af4fdad232"),
            new SizeKat(512, "909cebf1ca89d1391ff28ae6c1a411f5c0d3ba7524ae73d25f17f2a3f989af40"),
            new SizeKat(513, "0b7586426c8e6ee99ae8a58b06a00948604abeb52bf1fbba981b657dfcbfaf56"),
            new SizeKat(767, "194ac3e1f3aa97f5d3883925815fbf1645dc4e3d4e4ce22c34ff44f7909cd566"),
            new SizeKat(768, "7e9741d47ac41569551e39d4cbf30299d109718ec209f505a9fd066fec709650"),
            new SizeKat(769, "25bb7b3c105d73430e0524dfc1d33230c226713f956b77e12b3b3be921f0bf05"),
            new SizeKat(1023, "6fd41757cdf817f98637a1d999d6a6add359d5b66d89e9d67b1a838078f6757c"),
            new SizeKat(1024, "fb818f98bb6ec2cfcdd8f241160d4fd064d69dd7e92105bbd1c9a347fa93b714"),
            new SizeKat(1025, "4a802bff0dc1a4ba73bb0189c25e1986c06dc8b6bd6948b09e99ba4a221358d9"),
            new SizeKat(2047, "fd743bc6e6fcf7301a5e77ffc3422825d1ff5ae095c9e2d678e26ea966e9cede"),
            new SizeKat(2048, "bc21dec86d7a7852e4783853343132732f48e72aab7c80e6d2e18c05c6713818"),
            new SizeKat(2049, "3d397f55053e6117bdcd28a6ca18890b88ab3b4f00966b2ce124f947aa606042"),
            new SizeKat(4095, "f37dbfe838e3c7a52e93a179611e2892ee642995008a8e04da2a7bf62efdd1f0"),
            new SizeKat(4096, "04fa20cc389b61ff54bcb4a95255606361383f54d81ce6c62874ad71e4154508"),
            new SizeKat(4097, "e08a71f7dbf87c6c5e0775e66a172f0e247868f4b2e9d8b119f00b683980c530"),
            new SizeKat(8191, "00c94b73a5f1fa1420998b0eebec4f8ccd506078ff06b8a1aab2061b0aaaab1b"),
            new SizeKat(8192, "23d25e55ada31cf95a5c0d824a70477e583f8f7706aabc23eecdf8e0c26f3186"),
            new SizeKat(8193, "ce47d8cd903a655f143fcd408ff05863727e6e3be8dd65ba3cba60a6b3e16bc5"),
            new SizeKat(16383, "12b47672a00d5426be8c6cb07c3e1d81823291e5737d64af3c65ead1d93cbf36"),
            new SizeKat(16384, "86f6728c3fddf1a0488ef26387d5199d913e7b713dd2669d8517e348f762e2fd"),
            new SizeKat(16385, "ef5624c9fb6b516b05182268af2c18582e12d7d38f8297ea0351dff1d59dbf1f"),
            new SizeKat(32767, "b9c762c0e79362578eb1ea416fcc9bdfa239413ab0e805c115e01401a6f29f8c"),
            new SizeKat(32768, "ece8863789ae50c5ab93137c83a2b8434134710d75a6f69c034b404154839979"),
            new SizeKat(32769, "882be60222592e20d60691ac7b282481b2a74838ca0e7e330053c3343820c2ca"),
            new SizeKat(65535, "5354b7a5c420a4827f5db249e4b530dd44a4f9ab779f8545091910136bee14c4"),
            new SizeKat(65536, "1dee43e379f5ac416c386b6d1fd79cd8f24c4decc5a0e07f719520b070d18ab6"),
            new SizeKat(65537, "4300fb45adad6b063fbb1e8285e4a551b68921f2eb0754d976d7c123333f1751"),
            new SizeKat(131071, "5a281c92365d8eb62d8c8d31fcffb12cd127344cebcd2bc0648c4c7e3c4dbe79"),
            new SizeKat(131072, "faf204a559400d22b03b63f7124fc4d613788149b97d0243e904140e42072b30"),
            new SizeKat(131073, "efdd0d32a517afce7d6da672db957f8574f800a1b270dd110c0b6be83ed6461e"),
            new SizeKat(262143, "d611c26fa461866f81f8bf5e798aa93075dc0ab58f5125ddbb7301f8e8259ae5"),
            new SizeKat(262144, "dde0fe71a0c93f320a06a31af8e533b097b5b0381f4c1c0b99fb6ca87d417ff1"),
            new SizeKat(262145, "9f23609ad85d4eb2c40d10a635bfbdb646e7a592b8b2cd645dd87e0f2188046c"),
            new SizeKat(524287, "55d67cbceef649387fa387427d4ff87cc87cf6a09442287941ef33411bbe674e"),
            new SizeKat(524288, "7a8c1b99bfa8b7b19c35b0708cb6fb384c8a23d111a19d159f0699278890d3f8"),
            new SizeKat(524289, "33bf627325548270975ff86d2346f0818abd8ad7bbba08bff2ac88a3a73c475e"),
            new SizeKat(1048575, "6f77b841e019001529d79e0f310defc6ca9aa90057ae17461f0c408483181232"),
            new SizeKat(1048576, "016f84b3eeb65eb2b0e23f51c15aff90906124673ec4a7f26f4c26d70d4f8f7c"),
            new SizeKat(1048577, "7e163d01265c9f24345bbdb44c2e6f2576a3ac73cbba119bb99c91cec8ab8243"),
            new SizeKat(2097153, "d7eab2879cc0707fec2b6ed7d11c521c0c547b355379c8ff0430215af930cf22"));

    /**
     * Sizes for the cross-check: empty, sub-block, around the 64 KiB chunk. (Sizes across SunJCE's 1 MiB split
     * are in {@link #SIZE_KATS}, which cover them independently of the JDK.)
     */
    static final int[] CROSS_CHECK_SIZES = {0, 1, 15, 16, 17, 511, 4096, 65535, 65536, 65537, 200_003};

    private GcmSelfTest() {
    }

    /**
     * @return {@code null} if the engine passed, otherwise the first failure (names the check, never key bytes)
     */
    public static String run(GcmEngine engine) {
        String forced = forcedFailure("engine");
        if (forced != null) {
            return forced;
        }
        try {
            String failure = knownAnswers(engine);
            if (failure == null) {
                failure = refusals(engine);
            }
            if (failure == null) {
                failure = sizeKnownAnswers(engine);
            }
            if (failure == null) {
                failure = crossCheck(engine);
            }
            return failure;
        } catch (RuntimeException | Error e) {
            return "self-test threw " + e.getClass().getName() + ": " + e.getMessage();
        }
    }

    /**
     * Checks {@link StreamingGcm} (one instance from {@code factory}, used for every message, as the agent reuses
     * one per context) against {@link #SIZE_KATS}: each size is encrypted with one split of the message into
     * updates and its SHA-256(ciphertext || tag) compared, then the ciphertext is decrypted with another split
     * and must give back the plaintext and accept the tag. The splits rotate over the sizes: one update, an
     * irregular mix (0-, 1-, 15-, 17-, 511-, 513-byte, 4 KiB, odd and over-64-KiB updates) and, up to 4 KiB + 1,
     * one byte per update; every other decryption is in place. A flipped tag bit and a truncated tag are checked
     * on sizes 0..80 and 64 KiB + 1.
     *
     * @return {@code null} if it passed, otherwise the first failure (names the check, never key bytes)
     */
    public static String runStreaming(Supplier<StreamingGcm> factory) {
        String forced = forcedFailure("streaming");
        if (forced != null) {
            return forced;
        }
        StreamingGcm gcm = null;
        try {
            gcm = factory.get();
            if (gcm == null) {
                return "streaming: the factory returned null";
            }
            return streamingSizeKnownAnswers(gcm);
        } catch (RuntimeException | Error e) {
            return "streaming self-test threw " + e.getClass().getName() + ": " + e.getMessage();
        } finally {
            if (gcm != null) {
                gcm.wipe();
            }
        }
    }

    private static String forcedFailure(String which) {
        String value = System.getProperty(FORCE_FAIL_PROPERTY);
        if (value == null) {
            return null;
        }
        value = value.trim();
        if (value.equals("1") || value.equalsIgnoreCase("all") || value.equalsIgnoreCase(which)) {
            return "forced failure: " + FORCE_FAIL_PROPERTY + "=" + value + " (test only)";
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------ size KATs

    /** The size KATs' key: byte j is {@code 0x3C + 7j}. */
    static byte[] sizeKatKey() {
        byte[] key = new byte[32];
        for (int j = 0; j < key.length; j++) {
            key[j] = (byte) (j * 7 + 0x3C);
        }
        return key;
    }

    /** The size KATs' IV: byte j is {@code 0xA0 + 3j}. */
    static byte[] sizeKatIv() {
        byte[] iv = new byte[GcmEngine.IV_BYTES];
        for (int j = 0; j < iv.length; j++) {
            iv[j] = (byte) (0xA0 + j * 3);
        }
        return iv;
    }

    /** The size KATs' plaintext: byte i is the top byte of {@code i * 0x9E3779B1} (32-bit, unsigned). */
    static byte[] sizeKatPlaintext(int length) {
        byte[] p = new byte[length];
        for (int i = 0; i < length; i++) {
            p[i] = (byte) ((i * 0x9E3779B1) >>> 24);
        }
        return p;
    }

    static int sizeKatMaxSize() {
        int max = 0;
        for (SizeKat kat : SIZE_KATS) {
            max = Math.max(max, kat.size());
        }
        return max;
    }

    /** Whether SHA-256(ct[0, size) || tag[0, 16)) is the known answer. */
    private static boolean matches(MessageDigest sha, SizeKat kat, byte[] ct, byte[] tag, int tagOff) {
        sha.update(ct, 0, kat.size());
        sha.update(tag, tagOff, GcmEngine.TAG_BYTES);
        return MessageDigest.isEqual(sha.digest(), HexFormat.of().parseHex(kat.sha256()));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256", "SUN");
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("SUN provider has no SHA-256", e);
        }
    }

    /**
     * Heap path: encrypt, hash, compare with the known answer, decrypt. Segment path: encrypt and compare with the
     * heap result (which the hash has just verified), so each size is hashed once; segment decryption for sizes up
     * to {@value #SEGMENT_DECRYPT_MAX_SIZE} (beyond that it is the same code as the heap path plus two copies).
     */
    private static String sizeKnownAnswers(GcmEngine engine) {
        final int max = sizeKatMaxSize();
        final byte[] plain = sizeKatPlaintext(max);
        final byte[] ct = new byte[max];
        final byte[] back = new byte[max];
        final byte[] tag = new byte[GcmEngine.TAG_BYTES];
        final byte[] iv = sizeKatIv();
        final MessageDigest sha = sha256();
        byte[] keyBytes = sizeKatKey();
        try (GcmKey key = GcmKey.copyOf(keyBytes); Arena arena = Arena.ofConfined()) {
            Arrays.fill(keyBytes, (byte) 0);
            final MemorySegment heapCt = MemorySegment.ofArray(ct);
            final MemorySegment heapTag = MemorySegment.ofArray(tag);
            final MemorySegment segPlain = arena.allocate(max);
            final MemorySegment segCt = arena.allocate(max);
            final MemorySegment segTag = arena.allocate(GcmEngine.TAG_BYTES);
            final MemorySegment segBack = arena.allocate(SEGMENT_DECRYPT_MAX_SIZE);
            MemorySegment.copy(plain, 0, segPlain, ValueLayout.JAVA_BYTE, 0, max);
            for (SizeKat kat : SIZE_KATS) {
                final int size = kat.size();
                int status = engine.encrypt(key, iv, null, plain, 0, size, ct, 0, tag, 0);
                if (status != GcmEngine.OK || !matches(sha, kat, ct, tag, 0)) {
                    return "size-kat: heap encrypt of " + size + " bytes differs from OpenSSL's known answer ("
                            + GcmEngine.statusName(status) + ")";
                }
                status = engine.decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(back, 0, size, plain, 0, size)) {
                    return "size-kat: heap decrypt of " + size + " bytes failed (" + GcmEngine.statusName(status) + ")";
                }
                final MemorySegment in = segPlain.asSlice(0, size);
                final MemorySegment out = segCt.asSlice(0, size);
                segTag.fill((byte) 0);
                status = engine.encrypt(key, iv, null, in, out, segTag);
                if (status != GcmEngine.OK || out.mismatch(heapCt.asSlice(0, size)) != -1
                        || segTag.mismatch(heapTag) != -1) {
                    return "size-kat: segment encrypt of " + size + " bytes differs from OpenSSL's known answer ("
                            + GcmEngine.statusName(status) + ")";
                }
                if (size <= SEGMENT_DECRYPT_MAX_SIZE) {
                    final MemorySegment outBack = segBack.asSlice(0, size);
                    status = engine.decrypt(key, iv, null, out, outBack, segTag);
                    if (status != GcmEngine.OK || outBack.mismatch(in) != -1) {
                        return "size-kat: segment decrypt of " + size + " bytes failed ("
                                + GcmEngine.statusName(status) + ")";
                    }
                }
            }
        }
        return null;
    }

    private static final int SEGMENT_DECRYPT_MAX_SIZE = 65_537;

    /** Update lengths of the irregular split, cycled: empty, single bytes, ragged, aligned, over one 64 KiB chunk. */
    private static final int[] IRREGULAR_SPLIT = {1, 0, 15, 17, 4099, 16, 65_539, 511, 31, 2, 100_003, 513, 48, 4096, 7};

    /** Split kinds for {@link #runStreaming}. */
    private static final int WHOLE = 0;
    private static final int IRREGULAR = 1;
    private static final int BYTES = 2;
    private static final int BYTES_MAX_SIZE = 4097;

    private static String splitName(int split) {
        return switch (split) {
            case WHOLE -> "one update";
            case IRREGULAR -> "irregular updates";
            default -> "1-byte updates";
        };
    }

    /** Streams {@code in[0, size)} through {@code gcm} into {@code out}, cut as {@code split} says. */
    private static void stream(StreamingGcm gcm, int split, byte[] in, byte[] out, int size) {
        if (split == WHOLE) {
            gcm.update(in, 0, size, out, 0);
            return;
        }
        int pos = 0;
        for (int k = 0; pos < size; k++) {
            int n = split == BYTES ? 1 : Math.min(size - pos, IRREGULAR_SPLIT[k % IRREGULAR_SPLIT.length]);
            gcm.update(in, pos, n, out, pos);
            pos += n;
        }
        gcm.update(in, size, 0, out, size); // a trailing empty update is legal too
    }

    private static String streamingSizeKnownAnswers(StreamingGcm gcm) {
        final int max = sizeKatMaxSize();
        final byte[] plain = sizeKatPlaintext(max);
        final byte[] ct = new byte[max];
        final byte[] back = new byte[max];
        final byte[] tag = new byte[GcmEngine.TAG_BYTES];
        final byte[] badTag = new byte[GcmEngine.TAG_BYTES];
        final MessageDigest sha = sha256();
        final byte[] iv = sizeKatIv();
        final SecretKeySpec key = new SecretKeySpec(sizeKatKey(), "AES");
        for (int k = 0; k < SIZE_KATS.size(); k++) {
            final SizeKat kat = SIZE_KATS.get(k);
            final int size = kat.size();
            final int kinds = size <= BYTES_MAX_SIZE ? 3 : 2;
            final int encSplit = k % kinds;
            final int decSplit = (k + 1) % kinds;
            gcm.begin(key, iv, true);
            stream(gcm, encSplit, plain, ct, size);
            gcm.finishEncrypt(tag);
            if (!matches(sha, kat, ct, tag, 0)) {
                return "streaming size-kat: encrypt of " + size + " bytes (" + splitName(encSplit)
                        + ") differs from OpenSSL's known answer";
            }
            final boolean inPlace = (k & 1) == 0;
            if (inPlace) {
                System.arraycopy(ct, 0, back, 0, size);
            }
            gcm.begin(key, iv, false);
            stream(gcm, decSplit, inPlace ? back : ct, back, size);
            if (!gcm.finishDecrypt(tag, GcmEngine.TAG_BYTES)) {
                return "streaming size-kat: decrypt of " + size + " bytes (" + splitName(decSplit)
                        + (inPlace ? ", in place" : "") + ") rejected the right tag";
            }
            if (!Arrays.equals(back, 0, size, plain, 0, size)) {
                return "streaming size-kat: decrypt of " + size + " bytes (" + splitName(decSplit)
                        + (inPlace ? ", in place" : "") + ") gave wrong plaintext";
            }
            if (size <= 80 || size == 65_537) {
                // Rejection: one flipped tag bit must fail; a correct 12-byte truncated tag must pass.
                System.arraycopy(tag, 0, badTag, 0, GcmEngine.TAG_BYTES);
                badTag[size % GcmEngine.TAG_BYTES] ^= (byte) (1 << (size % 8));
                gcm.begin(key, iv, false);
                stream(gcm, WHOLE, ct, back, size);
                if (gcm.finishDecrypt(badTag, GcmEngine.TAG_BYTES)) {
                    return "streaming size-kat: decrypt of " + size + " bytes accepted a corrupted tag";
                }
                gcm.begin(key, iv, false);
                stream(gcm, WHOLE, ct, back, size);
                if (!gcm.finishDecrypt(tag, 12)) {
                    return "streaming size-kat: decrypt of " + size + " bytes rejected a right 12-byte tag";
                }
            }
        }
        return null;
    }

    private static String knownAnswers(GcmEngine engine) {
        HexFormat hex = HexFormat.of();
        for (Kat kat : KATS) {
            byte[] msg = hex.parseHex(kat.msg());
            byte[] ct = hex.parseHex(kat.ct());
            byte[] tag = hex.parseHex(kat.tag());
            byte[] iv = hex.parseHex(kat.iv());
            byte[] aad = kat.aad().isEmpty() ? null : hex.parseHex(kat.aad());
            try (GcmKey key = GcmKey.copyOf(hex.parseHex(kat.key()))) {
                byte[] back = new byte[msg.length];
                int status = engine.decrypt(key, iv, aad, ct, 0, ct.length, back, 0, tag, 0);
                if (!kat.valid()) {
                    if (status != GcmEngine.TAG_MISMATCH) {
                        return kat.id() + ": invalid tag accepted (" + GcmEngine.statusName(status) + ")";
                    }
                    continue;
                }
                if (status != GcmEngine.OK || !Arrays.equals(back, msg)) {
                    return kat.id() + ": decrypt " + GcmEngine.statusName(status);
                }
                byte[] out = new byte[msg.length];
                byte[] outTag = new byte[GcmEngine.TAG_BYTES];
                status = engine.encrypt(key, iv, aad, msg, 0, msg.length, out, 0, outTag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(out, ct) || !Arrays.equals(outTag, tag)) {
                    return kat.id() + ": encrypt mismatch (" + GcmEngine.statusName(status) + ")";
                }
            }
        }
        return null;
    }

    private static String refusals(GcmEngine engine) {
        try (GcmKey key = GcmKey.copyOf(new byte[32])) {
            byte[] buf = new byte[64];
            int status = engine.encrypt(key, new byte[16], null, buf, 0, 16, buf, 32, buf, 48);
            if (status != GcmEngine.UNSUPPORTED_IV_LENGTH) {
                return "16-byte IV not refused: " + GcmEngine.statusName(status);
            }
            status = engine.encrypt(key, new byte[12], null, buf, 0, 16, buf, 16, new byte[8], 0);
            if (status != GcmEngine.INVALID_ARGUMENT) {
                return "8-byte tag buffer not refused: " + GcmEngine.statusName(status);
            }
        }
        return null;
    }

    private static String crossCheck(GcmEngine engine) {
        SplittableRandom random = new SplittableRandom(0x5EED_6C3L);
        byte[] keyBytes = new byte[32];
        random.nextBytes(keyBytes);
        try (GcmKey key = GcmKey.copyOf(keyBytes); Arena arena = Arena.ofConfined()) {
            Cipher reference = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            SecretKeySpec spec = new SecretKeySpec(keyBytes, "AES");
            for (int size : CROSS_CHECK_SIZES) {
                byte[] msg = new byte[size];
                random.nextBytes(msg);
                byte[] iv = new byte[GcmEngine.IV_BYTES];
                random.nextBytes(iv);
                reference.init(Cipher.ENCRYPT_MODE, spec, new GCMParameterSpec(128, iv));
                byte[] expected = reference.doFinal(msg);

                byte[] ct = new byte[size];
                byte[] tag = new byte[GcmEngine.TAG_BYTES];
                int status = engine.encrypt(key, iv, null, msg, 0, size, ct, 0, tag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(ct, 0, size, expected, 0, size)
                        || !Arrays.equals(tag, 0, 16, expected, size, size + 16)) {
                    return "heap encrypt of " + size + " bytes differs from SunJCE one-shot ("
                            + GcmEngine.statusName(status) + ")";
                }
                MemorySegment segIn = arena.allocate(Math.max(1, size)).asSlice(0, size);
                MemorySegment segOut = arena.allocate(Math.max(1, size)).asSlice(0, size);
                MemorySegment segTag = arena.allocate(GcmEngine.TAG_BYTES);
                MemorySegment.copy(msg, 0, segIn, ValueLayout.JAVA_BYTE, 0, size);
                status = engine.encrypt(key, iv, null, segIn, segOut, segTag);
                if (status != GcmEngine.OK
                        || !Arrays.equals(segOut.toArray(ValueLayout.JAVA_BYTE), 0, size, expected, 0, size)
                        || !Arrays.equals(segTag.toArray(ValueLayout.JAVA_BYTE), 0, 16, expected, size, size + 16)) {
                    return "segment encrypt of " + size + " bytes differs from SunJCE one-shot ("
                            + GcmEngine.statusName(status) + ")";
                }
                byte[] back = new byte[size];
                status = engine.decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(back, msg)) {
                    return "heap decrypt of " + size + " bytes failed (" + GcmEngine.statusName(status) + ")";
                }
                status = engine.decrypt(key, iv, null, segOut, segIn, segTag);
                if (status != GcmEngine.OK || !Arrays.equals(segIn.toArray(ValueLayout.JAVA_BYTE), msg)) {
                    return "segment decrypt of " + size + " bytes failed (" + GcmEngine.statusName(status) + ")";
                }
                tag[size % GcmEngine.TAG_BYTES] ^= 1;
                status = engine.decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0);
                if (status != GcmEngine.TAG_MISMATCH) {
                    return "corrupted tag accepted for " + size + " bytes (" + GcmEngine.statusName(status) + ")";
                }
            }
        } catch (java.security.GeneralSecurityException e) {
            return "reference SunJCE cipher unavailable: " + e;
        }
        return null;
    }
}
